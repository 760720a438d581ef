package checker

import (
	"encoding/json"
	"fmt"
)

// UnmarshalJSON decodes a Result and restores Details to the typed struct of
// the known checkers (a *LinearizabilityDetails for "linearizability", and
// so on), so a results.json read back looks like the one written. Details of
// an unknown checker stay a generic JSON value.
func (r *Result) UnmarshalJSON(b []byte) error {
	var raw struct {
		Checker string          `json:"checker"`
		Verdict Verdict         `json:"verdict"`
		Reason  string          `json:"reason"`
		Details json.RawMessage `json:"details"`
		// FirstFlagged as in Result.
		FirstFlagged *int64 `json:"first_flagged_ns"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	r.Checker, r.Verdict, r.Reason, r.Details = raw.Checker, raw.Verdict, raw.Reason, nil
	r.FirstFlagged = raw.FirstFlagged
	if len(raw.Details) == 0 || string(raw.Details) == "null" {
		return nil
	}
	var details any
	switch raw.Checker {
	case Linearizability{}.Name():
		details = &LinearizabilityDetails{}
	case Set{}.Name():
		details = &SetDetails{}
	case Stats{}.Name():
		details = &StatsDetails{}
	case Availability{}.Name():
		details = &AvailabilityDetails{}
	case Convergence{}.Name():
		details = &ConvergenceDetails{}
	case Leaders{}.Name():
		details = &LeadersDetails{}
	default:
		var v any
		details = &v
	}
	if err := json.Unmarshal(raw.Details, details); err != nil {
		return fmt.Errorf("decode %s details: %w", raw.Checker, err)
	}
	if v, ok := details.(*any); ok {
		details = *v
	}
	r.Details = details
	return nil
}
