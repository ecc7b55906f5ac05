package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// Output formats accepted by --output.
const (
	outputTable = "table"
	outputJSON  = "json"
)

// addOutputFlag adds --output/-o to cmd, stored in dst.
func addOutputFlag(cmd *cobra.Command, dst *string) {
	cmd.Flags().StringVarP(dst, "output", "o", outputTable, "output format: table or json (for scripts)")
}

// checkOutput validates an --output value.
func checkOutput(v string) error {
	if v != outputTable && v != outputJSON {
		return fmt.Errorf("%w: --output %q: use table or json", ErrUsage, v)
	}
	return nil
}

// table writes rows as aligned columns under an upper-case header.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cols ...string) { fmt.Fprintln(t.tw, strings.Join(cols, "\t")) }

func (t *table) flush() error { return t.tw.Flush() }

// writeJSON writes v as indented JSON followed by a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing json: %w", err)
	}
	return nil
}

// joinInt32 formats a replica list as Kafka's tools do: "1,2,3".
func joinInt32(xs []int32) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}
