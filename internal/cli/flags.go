package cli

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"
)

// Duration is a duration option whose errors say what form is expected:
// a number with a unit ("10" says "e.g. 10s, 10ms or 10m"), not negative.
func Duration(p *time.Duration) flag.Value { return durationValue{p} }

type durationValue struct{ p *time.Duration }

func (f durationValue) String() string {
	if f.p == nil {
		return ""
	}
	return f.p.String()
}

func (f durationValue) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		if _, nerr := strconv.ParseFloat(v, 64); nerr == nil {
			return fmt.Errorf("a duration needs a unit, e.g. %ss, %sms or %sm", v, v, v)
		}
		return errors.New("want a duration such as 30s, 1m30s or 500ms")
	}
	if d < 0 {
		return errors.New("must not be negative")
	}
	*f.p = d
	return nil
}
