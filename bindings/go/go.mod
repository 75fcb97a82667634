module libcff.org/cff

go 1.19
