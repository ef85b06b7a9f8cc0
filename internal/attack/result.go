package attack

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spdygo/spdy/framing"
)

// Result is what one attack did and what the server did about it.
type Result struct {
	// Attack and Target name the attack and the server.
	Attack string
	Target string
	// Conns is the number of connections the attack opened.
	Conns int
	// Frames and Bytes are what the attack sent, over all its
	// connections (bytes of partial frames included).
	Frames int64
	Bytes  int64
	// Duration is the attack's run time.
	Duration time.Duration
	// GoAways counts the connections on which the server sent GOAWAY, by
	// the status of its first GOAWAY.
	GoAways map[framing.GoAwayStatus]int
	// Resets counts the RST_STREAM frames the server sent, by status.
	Resets map[framing.StatusCode]int
	// Closed is the number of connections the server closed.
	Closed int
	// Alive is the number of connections whose session still answered a
	// PING once the attack was over.
	Alive int
	// Replies is the number of SYN_REPLY frames received, HTTPStatus
	// counts them by :status code, and Complete is the number of streams
	// whose response arrived to its end (FIN).
	Replies    int
	HTTPStatus map[string]int
	Complete   int
	// Beyond is, for an attack that opens streams past the server's
	// MAX_CONCURRENT_STREAMS, how many it opened beyond the limit.
	Beyond int
	// Note carries details of the attack's run (the limits it found).
	Note string
	// Err is why the attack could not run as planned (a dial failure, a
	// target without the resources it needs), or a frame from the server
	// that the attacker could not parse.
	Err error
}

func newResult(name string, t *Target) *Result {
	return &Result{Attack: name, Target: t.String()}
}

func (r *Result) goAway(s framing.GoAwayStatus) {
	if r.GoAways == nil {
		r.GoAways = map[framing.GoAwayStatus]int{}
	}
	r.GoAways[s]++
}

func (r *Result) reset(s framing.StatusCode, n int) {
	if r.Resets == nil {
		r.Resets = map[framing.StatusCode]int{}
	}
	r.Resets[s] += n
}

// resetsOtherThan returns the number of RST_STREAM frames with a status
// not in allowed.
func (r *Result) resetsOtherThan(allowed ...framing.StatusCode) int {
	return countOtherThan(r.Resets, allowed)
}

// goAwaysOtherThan returns the number of connections that got a GOAWAY
// with a status not in allowed.
func (r *Result) goAwaysOtherThan(allowed ...framing.GoAwayStatus) int {
	return countOtherThan(r.GoAways, allowed)
}

// countOtherThan sums the counts of m whose key is not in allowed.
func countOtherThan[K comparable](m map[K]int, allowed []K) int {
	n := 0
	for k, c := range m {
		if !slices.Contains(allowed, k) {
			n += c
		}
	}
	return n
}

// Outcome summarizes what the server did, for example
// "GOAWAY PROTOCOL_ERROR, RST FRAME_TOO_LARGE x3, closed 1/1".
func (r *Result) Outcome() string {
	var parts []string
	for _, s := range sortedKeys(r.GoAways) {
		p := "GOAWAY " + s.String()
		if r.Conns > 1 {
			p += fmt.Sprintf(" %d/%d", r.GoAways[s], r.Conns)
		}
		parts = append(parts, p)
	}
	for _, s := range sortedKeys(r.Resets) {
		parts = append(parts, fmt.Sprintf("RST %s x%d", s, r.Resets[s]))
	}
	if r.Complete > 0 {
		var st []string
		for _, k := range sortedKeys(r.HTTPStatus) {
			st = append(st, fmt.Sprintf("%s x%d", k, r.HTTPStatus[k]))
		}
		parts = append(parts, fmt.Sprintf("answered %d (%s)", r.Complete, strings.Join(st, ", ")))
	}
	if r.Closed > 0 {
		parts = append(parts, fmt.Sprintf("closed %d/%d", r.Closed, r.Conns))
	}
	if r.Alive > 0 {
		parts = append(parts, fmt.Sprintf("alive %d/%d", r.Alive, r.Conns))
	}
	if r.Err != nil {
		parts = append(parts, "error: "+r.Err.Error())
	}
	if len(parts) == 0 {
		return "no reaction"
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}

// MarshalJSON writes the result with status names as keys, the duration
// in seconds and the error as a string.
func (r *Result) MarshalJSON() ([]byte, error) {
	type view struct {
		Attack     string         `json:"attack"`
		Target     string         `json:"target"`
		Outcome    string         `json:"outcome"`
		Conns      int            `json:"conns"`
		Frames     int64          `json:"frames_sent"`
		Bytes      int64          `json:"bytes_sent"`
		Seconds    float64        `json:"seconds"`
		GoAways    map[string]int `json:"goaway,omitempty"`
		Resets     map[string]int `json:"rst_stream,omitempty"`
		Closed     int            `json:"closed"`
		Alive      int            `json:"alive"`
		Replies    int            `json:"replies"`
		HTTPStatus map[string]int `json:"http_status,omitempty"`
		Complete   int            `json:"complete"`
		Beyond     int            `json:"beyond_limit,omitempty"`
		Note       string         `json:"note,omitempty"`
		Err        string         `json:"error,omitempty"`
	}
	v := view{Attack: r.Attack, Target: r.Target, Outcome: r.Outcome(), Conns: r.Conns, Frames: r.Frames,
		Bytes: r.Bytes, Seconds: r.Duration.Seconds(), Closed: r.Closed, Alive: r.Alive,
		Replies: r.Replies, HTTPStatus: r.HTTPStatus, Complete: r.Complete, Beyond: r.Beyond, Note: r.Note}
	if len(r.GoAways) > 0 {
		v.GoAways = map[string]int{}
		for s, n := range r.GoAways {
			v.GoAways[s.String()] = n
		}
	}
	if len(r.Resets) > 0 {
		v.Resets = map[string]int{}
		for s, n := range r.Resets {
			v.Resets[s.String()] = n
		}
	}
	if r.Err != nil {
		v.Err = r.Err.Error()
	}
	return json.Marshal(v)
}
