package server

import (
	"bytes"
	"io"
	"strconv"
)

func readAll(r io.Reader, sizeHint int64) ([]byte, error) {
	var buf bytes.Buffer
	if sizeHint > 0 && sizeHint < 1<<24 {
		buf.Grow(int(sizeHint))
	}
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
