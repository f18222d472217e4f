package textdata

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The fixture has the npm package's layout: group folders under data/,
// each message as .txt and .json (the .txt wins), a JSON-only message,
// a tarball's cmds index and a folder that is not a group.
func TestSpamFixture(t *testing.T) {
	for _, dir := range []string{filepath.Join("testdata", "spam"), filepath.Join("testdata", "spam", "data")} {
		c, err := Spam(dir)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range c.Docs {
			got = append(got, c.Classes[d.Label]+" "+d.Source)
		}
		want := []string{"ham easy-ham-1/00001.aaaa.txt", "ham easy-ham-1/00002.bbbb.json",
			"spam spam-2/00001.cccc.txt", "spam spam-2/00002.dddd.txt"}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: %q, want %q", dir, got, want)
		}
		wantText := []string{
			"Re: New Sequences Window\n\nDate:        Wed, 21 Aug 2002 10:54:46 -0500\nI can't reproduce this error.",
			"Café\n\nOnly JSON é.",
			"FREE 💰 money\n\nEarn £500 a day from home!\nVisit http://example.net/?a=1",
			"Act now\n\n<p>Buy “cheap” pills</p>",
		}
		if got := c.Texts(); !slices.Equal(got, wantText) {
			t.Errorf("texts %q,\nwant %q", got, wantText)
		}
	}
	_, err := Spam(t.TempDir())
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "npm install") || !strings.Contains(err.Error(), SpamEnv) {
		t.Errorf("missing corpus: %v, want ErrNotFound with the npm line and %s", err, SpamEnv)
	}
}

// The installed npm package (skipped without it): its documented group
// sizes, 4,150 ham and 1,896 spam.
func TestSpamInstalled(t *testing.T) {
	c, err := Resolve("spam", Options{})
	if errors.Is(err, ErrNotFound) {
		t.Skipf("SpamAssassin corpus not installed (%s): %v", SpamInstall, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ClassCounts(); !slices.Equal(got, []int{4150, 1896}) {
		t.Errorf("ham, spam = %v, want [4150 1896] (%s %s)", got, SpamPackage, SpamVersion)
	}
	t.Logf("%s: %s", c.Name, c.Fingerprint())
}
