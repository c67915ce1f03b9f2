package main

import (
	"github.com/sethvargo/go-githubactions"
)

// actions is the GitHub Actions toolkit on the CLI's stdout and environment.
func (c *cli) actions() *githubactions.Action {
	return githubactions.New(githubactions.WithWriter(c.stdout), githubactions.WithGetenv(c.getenv))
}
