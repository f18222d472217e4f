// Package pipeline is glora's fine-tuning pipeline as a library: what
// `glora run`, `glora demo` and the transfer suite call, one function per
// job.
//
//   - Open loads a base model and a data set once and splits it (a Spec
//     names them as the command line does); NewTask builds a Task from
//     data already in memory.
//   - Named returns a recipe (Quick, Default, Paper): every hyperparameter
//     of every stage in one place.
//   - Run is `glora run`: the searched-GLoRA chain (SearchGLoRA: supernet,
//     seeded evolutionary search, finalists by successive halving), the
//     kept model merged and published, tested once, and report.md.
//   - TrainMethod trains any one method (Methods); Compare trains several
//     and tests each kept model once, as the demo does.
//
// The test split is read only at the end, after every choice was made on
// validation (docs/DESIGN.md §6).
//
// Memory in long runs. A training step reuses its large buffers (the
// autograd tape's pool), so its live heap is flat, but each step leaves a
// few hundred kilobytes of small garbage. Go's collector, at its default
// GOGC=100, lets the heap grow to twice the live heap before collecting,
// so a long run's peak RSS ends near twice a short one's. The glora
// command collects at 10% growth instead (it leaves GOGC or GOMEMLIMIT, if
// set, alone); the heap is mostly float buffers the collector does not
// scan, so that cost nothing in runs of a minute or more (a process of many
// runs of seconds each was about a tenth slower). A Go program that runs long jobs through this package can do
// the same with runtime/debug.SetGCPercent(10) (docs/DESIGN.md §9;
// docs/SPEED.md, "Memory in long runs").
package pipeline
