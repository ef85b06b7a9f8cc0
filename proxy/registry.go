package proxy

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
)

// ErrBadName reports an origin name that is not a DNS label: 1 to 63
// lower-case letters, digits and hyphens, not starting or ending with a
// hyphen. Names are used as host-name labels and path segments, so nothing
// else is accepted.
var ErrBadName = errors.New("proxy: origin name must be a DNS label (a-z, 0-9, '-', at most 63)")

// ErrBadToken reports a token that is too short to be a secret.
var ErrBadToken = fmt.Errorf("proxy: a token must have at least %d characters", MinTokenLength)

// MinTokenLength is the shortest token a Registry accepts.
const MinTokenLength = 16

var labelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidName reports whether name can name an origin.
func ValidName(name string) bool { return labelRE.MatchString(name) }

// Registry holds the origins a Proxy knows, each with the SHA-256 digest of
// its secret token. Only digests are kept. It is safe for concurrent use
// and may be changed while the proxy runs.
type Registry struct {
	mu      sync.RWMutex
	origins map[string][sha256.Size]byte
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{origins: make(map[string][sha256.Size]byte)}
}

// Add registers the origin name with its token, replacing any earlier
// token of that name.
func (r *Registry) Add(name, token string) error {
	if !ValidName(name) {
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	if len(token) < MinTokenLength {
		return fmt.Errorf("origin %q: %w", name, ErrBadToken)
	}
	r.set(name, sha256.Sum256([]byte(token)))
	return nil
}

// AddDigest registers the origin name with the SHA-256 digest of its
// token, so that the token itself need not be stored on the proxy.
func (r *Registry) AddDigest(name string, digest [sha256.Size]byte) error {
	if !ValidName(name) {
		return fmt.Errorf("%w: %q", ErrBadName, name)
	}
	r.set(name, digest)
	return nil
}

func (r *Registry) set(name string, d [sha256.Size]byte) {
	r.mu.Lock()
	r.origins[name] = d
	r.mu.Unlock()
}

// Remove forgets the origin name. Its connected tunnel, if any, is not
// closed by the registry; Proxy.Disconnect does that.
func (r *Registry) Remove(name string) {
	r.mu.Lock()
	delete(r.origins, name)
	r.mu.Unlock()
}

// Known reports whether name is registered.
func (r *Registry) Known(name string) bool {
	r.mu.RLock()
	_, ok := r.origins[name]
	r.mu.RUnlock()
	return ok
}

// Names returns the registered names, in no particular order.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.origins))
	for n := range r.origins {
		names = append(names, n)
	}
	return names
}

// Len returns the number of registered origins.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.origins)
}

// Check reports whether token is the token of the origin name. The
// comparison takes the same time whether the name is unknown, the token
// wrong in its first byte or in its last.
func (r *Registry) Check(name, token string) bool {
	got := sha256.Sum256([]byte(token))
	r.mu.RLock()
	want, known := r.origins[name]
	r.mu.RUnlock()
	if !known {
		// Compare anyway against a digest no token has, so an unknown
		// name costs what a wrong token does.
		want = [sha256.Size]byte{}
		for i := range want {
			want[i] = ^got[i]
		}
	}
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1 && known
}

// LoadOrigins reads an origins file (see ParseOrigins) into a new Registry.
func LoadOrigins(path string) (*Registry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := ParseOrigins(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// ParseOrigins reads origins, one per line: a name, white space, and either
// the token itself or "sha256:" followed by the hex SHA-256 digest of the
// token. Blank lines and lines starting with '#' are ignored. A name given
// twice is an error.
func ParseOrigins(rd io.Reader) (*Registry, error) {
	reg := NewRegistry()
	sc := bufio.NewScanner(rd)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return nil, fmt.Errorf("line %d: want \"NAME TOKEN\" or \"NAME sha256:HEX\"", line)
		}
		name, secret := fields[0], fields[1]
		if reg.Known(name) {
			return nil, fmt.Errorf("line %d: origin %q given twice", line, name)
		}
		var err error
		if hexd, ok := strings.CutPrefix(secret, "sha256:"); ok {
			var d [sha256.Size]byte
			b, herr := hex.DecodeString(hexd)
			if herr != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("line %d: sha256: wants %d hex digits", line, 2*sha256.Size)
			}
			copy(d[:], b)
			err = reg.AddDigest(name, d)
		} else {
			err = reg.Add(name, secret)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return reg, nil
}

// TokenDigest returns "sha256:" and the hex SHA-256 digest of token: the
// form of an origins file line that keeps the token off the proxy.
func TokenDigest(token string) string {
	d := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(d[:])
}
