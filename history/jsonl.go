package history

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Format and Version identify the history file encoding.
//
// A history file is JSON lines. The first line is a header:
//
//	{"format":"faultline-history","version":1}
//
// Every following line is one Op (see Op for the fields). Records are appended
// as they happen, so a run that crashed leaves a valid prefix; operations with
// no completion are treated as indeterminate by the checkers. A last line cut
// off mid-write (no trailing newline and not valid JSON) is ignored for the
// same reason; any other malformed line is an error naming the line.
const (
	Format  = "faultline-history"
	Version = 1
)

// Header is the first line of a history file.
type Header struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
}

// ErrMalformed is returned (wrapped) for a history file that cannot be read.
var ErrMalformed = errors.New("malformed history")

// ReadFile reads a history file written by a Recorder.
func ReadFile(path string) (History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	defer f.Close()
	h, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// Read decodes a history: a header line, then one Op per line.
func Read(r io.Reader) (History, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var h History
	line := 0
	for {
		raw, err := br.ReadBytes('\n')
		if len(raw) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("read line %d: %w", line+1, err)
		}
		line++
		complete := err == nil
		if line == 1 {
			var hd Header
			if jerr := json.Unmarshal(raw, &hd); jerr != nil || hd.Format != Format {
				return nil, fmt.Errorf("%w: line 1 is not a %s header (got %.60q)", ErrMalformed, Format, raw)
			}
			if hd.Version != Version {
				return nil, fmt.Errorf("%w: line 1: version %d is not supported (this faultline reads version %d)", ErrMalformed, hd.Version, Version)
			}
			continue
		}
		if len(trimSpace(raw)) == 0 {
			if complete {
				continue
			}
			break
		}
		var op Op
		if jerr := json.Unmarshal(raw, &op); jerr != nil {
			if !complete {
				// A torn final record from a crashed run.
				break
			}
			return nil, fmt.Errorf("%w: line %d: %v", ErrMalformed, line, jerr)
		}
		if !op.Type.Valid() {
			return nil, fmt.Errorf("%w: line %d: unknown type %q", ErrMalformed, line, op.Type)
		}
		h = append(h, op)
		if !complete {
			break
		}
	}
	if line == 0 {
		return nil, fmt.Errorf("%w: empty file (no header)", ErrMalformed)
	}
	return h, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// Write encodes h with a header, one op per line.
func Write(w io.Writer, h History) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(Header{Format: Format, Version: Version}); err != nil {
		return err
	}
	for _, op := range h {
		if err := enc.Encode(op); err != nil {
			return err
		}
	}
	return bw.Flush()
}
