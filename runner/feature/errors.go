package feature

import "github.com/vigil-risk/vigil/runner/fileerr"

// Error is one problem with a features file, pointing at the line to fix.
type Error = fileerr.Error

// Errors is every problem ParseSpecs found, sorted by line.
type Errors = fileerr.Errors
