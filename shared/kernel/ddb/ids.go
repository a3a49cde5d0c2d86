package ddb

import (
	"crypto/rand"
	"encoding/hex"
	"math/big"
	"strings"
	"time"
)

// Crockford is the id alphabet: lower-case Crockford base32 (no i, l, o, u).
const Crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// RandomString is n characters of crypto-random Crockford base32.
func RandomString(n int) string {
	b := make([]byte, n)
	max := big.NewInt(32)
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // the OS random source failing is not recoverable
		}
		b[i] = Crockford[v.Int64()]
	}
	return string(b)
}

// NewID is prefix followed by 16 random characters: 80 bits, unguessable.
func NewID(prefix string) string { return prefix + RandomString(16) }

// ValidID reports whether id is prefix followed by 16 id characters.
func ValidID(id, prefix string) bool {
	return len(id) == len(prefix)+16 && strings.HasPrefix(id, prefix) && inAlphabet(id[len(prefix):])
}

// TimeIDLen is the length of a time-ordered id.
const TimeIDLen = 26

// NewTimeID is time-ordered (48-bit milliseconds, then 80 random bits, like a
// ULID): items keyed by it sort by creation time.
func NewTimeID(t time.Time) string { return TimePrefix(t) + RandomString(16) }

// ValidTimeID reports whether id has the shape of a time-ordered id.
func ValidTimeID(id string) bool { return len(id) == TimeIDLen && inAlphabet(id) }

// TimePrefix is 10 base32 characters of Unix milliseconds; it sorts like time.
// Instants before 1970 map to the smallest prefix.
func TimePrefix(t time.Time) string {
	ms := uint64(max(t.UnixMilli(), 0))
	var b [10]byte
	for i := 9; i >= 0; i-- {
		b[i] = Crockford[ms&31]
		ms >>= 5
	}
	return string(b[:])
}

// NewToken is a random bearer secret with a recognisable prefix; only its
// hash is ever stored.
func NewToken(prefix string) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b)
}

func inAlphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(Crockford, s[i]) < 0 {
			return false
		}
	}
	return true
}
