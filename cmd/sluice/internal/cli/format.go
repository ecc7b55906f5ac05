package cli

import (
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrFormat marks an invalid --format template.
var ErrFormat = fmt.Errorf("%w: bad --format", ErrUsage)

// recordFormat is a compiled --format template: literal runs and verbs.
// Compiling once keeps the per-record path to appends into one buffer.
type recordFormat struct {
	parts []formatPart
}

type formatPart struct {
	lit  []byte
	verb byte // 0 for a literal
}

// compileFormat parses a template where %k %v %h %o %t %p %T stand for key,
// value, headers (k=v comma-joined), offset, timestamp in ms, partition and
// topic, %% is a percent sign, and \n \t \r \\ are escapes (so shells need
// no $'...' quoting). A null key or value prints as "null", like Kafka's
// console consumer.
func compileFormat(s string) (*recordFormat, error) {
	f := &recordFormat{}
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			f.parts = append(f.parts, formatPart{lit: lit})
			lit = nil
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("%w %q: it ends with a lone backslash", ErrFormat, s)
			}
			i++
			switch s[i] {
			case 'n':
				lit = append(lit, '\n')
			case 't':
				lit = append(lit, '\t')
			case 'r':
				lit = append(lit, '\r')
			case '\\':
				lit = append(lit, '\\')
			default:
				return nil, fmt.Errorf("%w %q: unknown escape \\%c; use \\n, \\t, \\r or \\\\", ErrFormat, s, s[i])
			}
		case '%':
			if i+1 == len(s) {
				return nil, fmt.Errorf("%w %q: it ends with a lone %%", ErrFormat, s)
			}
			i++
			switch v := s[i]; v {
			case '%':
				lit = append(lit, '%')
			case 'k', 'v', 'h', 'o', 't', 'p', 'T':
				flush()
				f.parts = append(f.parts, formatPart{verb: v})
			default:
				return nil, fmt.Errorf("%w %q: unknown verb %%%c; use %%k %%v %%h %%o %%t %%p %%T or %%%%", ErrFormat, s, v)
			}
		default:
			lit = append(lit, c)
		}
	}
	flush()
	return f, nil
}

// appendRecord appends r rendered by f to dst.
func (f *recordFormat) appendRecord(dst []byte, r *kgo.Record) []byte {
	for _, p := range f.parts {
		switch p.verb {
		case 0:
			dst = append(dst, p.lit...)
		case 'k':
			dst = appendNullable(dst, r.Key)
		case 'v':
			dst = appendNullable(dst, r.Value)
		case 'h':
			for i, h := range r.Headers {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, h.Key...)
				dst = append(dst, '=')
				dst = append(dst, h.Value...)
			}
		case 'o':
			dst = strconv.AppendInt(dst, r.Offset, 10)
		case 't':
			dst = strconv.AppendInt(dst, r.Timestamp.UnixMilli(), 10)
		case 'p':
			dst = strconv.AppendInt(dst, int64(r.Partition), 10)
		case 'T':
			dst = append(dst, r.Topic...)
		}
	}
	return dst
}

func appendNullable(dst, b []byte) []byte {
	if b == nil {
		return append(dst, "null"...)
	}
	return append(dst, b...)
}
