package iot

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
)

// newToken returns a device token (32 random bytes, hex) and its hash.
func newToken() (token, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = hex.EncodeToString(b)
	return token, hashToken(token), nil
}

// hashToken is how tokens are stored: hex SHA-256 (a token is 256 random
// bits, so a fast hash is enough: there is nothing to guess).
func hashToken(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// tokenMatches compares a presented token with a stored hash in constant time.
func tokenMatches(token, hash string) bool {
	h := hashToken(token)
	return subtle.ConstantTimeCompare([]byte(h), []byte(hash)) == 1
}
