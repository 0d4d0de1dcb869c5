package factor

import (
	"time"
)

// Passkey is one registered WebAuthn credential of a user.
type Passkey struct {
	// Credential is the library's credential record (id, public key, sign count, flags).
	Credential []byte `json:"credential"`
	// Name is what the enrolment page calls it.
	Name    string    `json:"name,omitempty"`
	Created time.Time `json:"created"`
}
