module github.com/glora/glora

go 1.26
