module github.com/gridedge/gridedge/edge

go 1.26.8
require github.com/gridedge/gridedge/shared v0.0.0
replace github.com/gridedge/gridedge/shared => ../shared
