// Random secrets and ids, and the fast hash of secrets that are long and random.

package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

const idAlphabet = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"

// randomID returns a Meteor-style 17-character id.
func randomID() string {
	b := make([]byte, 17)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}

// randomString returns a random secret: n random bytes as hex, or, for
// n <= 16, crypto/rand.Text (26 base-32 characters, easy to type).
func randomString(n int) string {
	if n <= 16 {
		return rand.Text()
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}
