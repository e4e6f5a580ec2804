// Package procfs reads the files and directories of Linux's /proc with
// plain system calls: an *os.File would start the Go runtime's network
// poller (an epoll and an eventfd descriptor, and polling from then on)
// for descriptors it can never poll, on the path of every `sole run`.
package procfs
