// Passwords: the rules a password follows and the bcrypt comparison that
// login spends even for unknown users.

package auth

import (
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 8

func checkPassword(pw string) error {
	if len(pw) < MinPasswordLength {
		return fmt.Errorf("%w: password must have at least %d characters", ErrInvalid, MinPasswordLength)
	}
	if len(pw) > 72 {
		return fmt.Errorf("%w: password must have at most 72 bytes (bcrypt)", ErrInvalid)
	}
	return nil
}

var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a password"), bcrypt.MinCost)
