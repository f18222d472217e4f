package textdata_test

import (
	"fmt"

	"github.com/glora/glora/textdata"
)

// Loading a labelled folder of text files and drawing a stratified
// validation and test split (here the package's own fixture; "spam" or
// "fortune" load the installed corpora the same way).
func Example() {
	c, err := textdata.Resolve("text:testdata/text/classes,labels=folders", textdata.Options{})
	if err != nil {
		fmt.Println(err) // a missing corpus says what to install
		return
	}
	fmt.Println(c.Name, c.Classes, c.ClassCounts())
	for _, d := range c.Docs {
		fmt.Printf("%s %q\n", c.Classes[d.Label], d.Text)
	}
	train, val, test, err := textdata.Split(c, 0, 0.3, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(train.Len(), val.Len(), test.Len())
	// Output:
	// text:testdata/text/classes,labels=folders [neg pos] [2 1]
	// neg "Terrible film."
	// neg "Dull and long."
	// pos "A delight."
	// 2 0 1
}
