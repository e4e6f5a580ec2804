package main

import "io"

// listCmd is `sole list`: every named lock in the lock directories.
var listCmd = &command{
	name:  "list",
	usage: "sole list [--scope system|user] [--json]",
	help:  "List every named lock in the lock directories, with its state, holder and since.",
	run: func(c *command, args []string, stdout, stderr io.Writer) int {
		return usageError(stderr, "list: not built yet", "list")
	},
}
