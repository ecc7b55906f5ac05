package config

import (
	"fmt"
	"io"
	"strings"
)

// WriteReference writes a Markdown table of the broker configs (or, with
// topics, the topic configs): key, type, default, valid values, update
// mode or broker synonyms, and description, with a note wherever Sluice's
// default differs from Apache Kafka's. docs/config-reference.md is made
// from it and a test keeps the two in step.
func WriteReference(w io.Writer, topics bool) error {
	var b strings.Builder
	if topics {
		b.WriteString("| Key | Type | Default | Valid values | Broker synonyms | Description |\n")
	} else {
		b.WriteString("| Key | Type | Default | Valid values | Update mode | Description |\n")
	}
	b.WriteString("|---|---|---|---|---|---|\n")
	ds := BrokerDefs()
	if topics {
		ds = TopicDefs()
	}
	for _, d := range ds {
		dflt := "(none)"
		if d.HasDefault {
			dflt = "`" + d.Default + "`"
			if d.Default == "" {
				dflt = `""`
			}
		}
		col := d.Mode.String()
		if topics {
			col = strings.Join(d.Synonyms, ", ")
		}
		doc := d.Doc
		if d.KafkaDefault != "" {
			doc += fmt.Sprintf(" Sluice's default differs from Kafka's (%s): %s.", d.KafkaDefault, d.Note)
		}
		if d.Deprecated != "" {
			doc += " Deprecated: use " + d.Deprecated + "."
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n",
			d.Name, d.Type, cell(dflt), cell(d.Valid), cell(col), cell(doc))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("config: writing reference: %w", err)
	}
	return nil
}

// cell escapes a table cell so a "|" in it does not split the row.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
