package mutate

import (
	"bytes"
	"fmt"
	"html/template"
	"time"

	"github.com/faultline/faultline/reports"
)

var reportTemplate = template.Must(template.New("mutate").Funcs(template.FuncMap{
	"pct": func(f float64) string { return fmt.Sprintf("%.1f %%", 100*f) },
	"dur": func(d time.Duration) string { return d.Round(100 * time.Millisecond).String() },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>faultline mutation campaign</title>
<style>{{.CSS}}</style></head><body><main>
<h1>Mutation campaign</h1>
<p class="sub">{{range $i, $p := .S.Packages}}{{if $i}}, {{end}}<code>{{$p}}</code>{{end}} · seed {{.S.Seed}} · started {{.S.Started.UTC.Format "2006-01-02 15:04:05 UTC"}} · {{dur .S.Wall}} wall</p>
{{if .S.FalseAlarm}}<div class="banner invalid"><div class="verdict">false alarm</div><p>A sweep of the unmutated node was not valid: no mutant was scored.</p></div>
{{else}}<div class="banner {{.Class}}"><div class="verdict">score {{pct .S.Score}}</div><p>The harness caught {{.S.Caught}} of {{.S.Scored}} mutants ({{.S.Mutants}} tried, {{.S.Stillborn}} stillborn, {{.S.Equivalent}} judged equivalent). kvnode's unit tests killed {{.S.UnitKilled}} ({{pct .S.UnitScore}}).</p></div>{{end}}
<p><code>{{.S.Command}}</code></p>
<h2>Budget and the unmutated node</h2>
<p>Each mutant: {{.S.Budget}}; a sweep stops at its first invalid run.</p>
<table><tr><th>unmutated node</th><th>seeds</th><th>verdict</th><th class="num">wall</th></tr>
{{range .S.Baseline}}<tr><td>{{.Workload}}</td><td>{{.Seeds}}</td><td>{{.Status}}</td><td class="num">{{dur .Duration}}</td></tr>{{end}}</table>
<h2>Counts</h2>
<table><tr><th>package</th><th class="num">sites</th><th class="num">caught</th><th class="num">scored</th></tr>
{{range .Packages}}<tr><td>{{.Name}}</td><td class="num">{{.Sites}}</td><td class="num">{{.Caught}}</td><td class="num">{{.Scored}}</td></tr>{{end}}</table>
<p>Caught by an invalid verdict {{index .S.CaughtBy "invalid"}}, by a crash {{index .S.CaughtBy "crash"}}, by a hang {{index .S.CaughtBy "timeout"}}. Killed by the unit tests and not the harness: {{.S.UnitOnly}}; by the harness and not the unit tests: {{.S.HarnessOnly}}.</p>
<h2>Survivors ({{len .Survivors}})</h2>
{{range .Survivors}}<h3><code>{{.ID}}</code> {{.Title}}</h3>
<p class="note">unit tests: {{.Unit.Status}} · {{range .Harness}}{{.Workload}} seeds {{.Seeds}}: {{.Status}} in {{dur .Duration}} · {{end}}</p>
<pre>{{.Diff}}</pre>
{{range .Harness}}<p class="note mono">{{.Command}}</p>{{with .Observed}}<p class="note">{{.}}</p>{{end}}{{end}}
{{else}}<p>None.</p>{{end}}
{{if .Equivalents}}<h2>Judged equivalent ({{len .Equivalents}})</h2>
{{range .Equivalents}}<h3><code>{{.ID}}</code> {{.Title}}</h3><p>{{.Equivalence}}</p>{{range .Harness}}{{with .Observed}}<p class="note">{{.}}</p>{{end}}{{end}}<pre>{{.Diff}}</pre>{{end}}{{end}}
<h2>Every mutant</h2>
<table><tr><th>id</th><th>site</th><th>outcome</th><th>unit tests</th><th class="num">time</th></tr>
{{range .Results}}<tr><td class="mono">{{.ID}}</td><td>{{.Title}}</td><td>{{.Outcome}}{{if .CaughtBy}} ({{.CaughtBy}}){{end}}</td><td>{{.Unit.Status}}</td><td class="num">{{dur .Duration}}</td></tr>{{end}}</table>
</main></body></html>
`))

type packageRow struct {
	Name                  string
	Sites, Caught, Scored int
}

func renderReport(c *Campaign) ([]byte, error) {
	class := "invalid"
	if c.Summary.Score >= 0.8 {
		class = "valid"
	}
	var rows []packageRow
	for _, p := range c.Summary.Packages {
		pp := c.Summary.PerPackage[p]
		rows = append(rows, packageRow{Name: p, Sites: c.Summary.Sites[p], Caught: pp[0], Scored: pp[1]})
	}
	var equivalents []Result
	for _, r := range c.Results {
		if r.Outcome == OutcomeEquivalent {
			equivalents = append(equivalents, r)
		}
	}
	var buf bytes.Buffer
	err := reportTemplate.Execute(&buf, map[string]any{
		"CSS": reports.StyleSheet(), "S": c.Summary, "Class": class, "Packages": rows,
		"Survivors": c.Survivors(), "Equivalents": equivalents, "Results": c.Results,
	})
	if err != nil {
		return nil, fmt.Errorf("render campaign page: %w", err)
	}
	return buf.Bytes(), nil
}
