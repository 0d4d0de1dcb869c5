package factor

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// Passkey is one registered WebAuthn credential of a user.
type Passkey struct {
	// Credential is the library's credential record (id, public key, sign count, flags).
	Credential webauthn.Credential `json:"credential"`
	// RPID is the relying party id it was registered for (the site's host).
	RPID    string    `json:"rp_id"`
	Created time.Time `json:"created"`
}

// RP is the relying party of one ceremony: the site the browser is on.
type RP struct {
	// ID is the relying party id: the site's host name (or, with single sign-on across
	// subdomains, the cookie domain they share).
	ID string
	// Origin is the one origin (scheme://host[:port]) the browser's signed client data must
	// name, compared exactly.
	Origin string
	// Name is what the browser shows.
	Name string
}

// The refusals of a passkey ceremony.
var (
	// ErrPasskey: the browser's answer does not verify (wrong origin, rp id, challenge or
	// signature, no user verification, an unknown credential, malformed data).
	ErrPasskey = errors.New("the passkey could not be verified")
	// ErrCounter: the authenticator's signature counter went backwards: the credential may
	// have been cloned.
	ErrCounter = errors.New("the passkey's signature counter went backwards")
)

// passkeyUser is a user as the WebAuthn library sees it.
type passkeyUser struct {
	handle []byte
	name   string
	rec    *Record
	rpID   string
}

func (u *passkeyUser) WebAuthnID() []byte          { return u.handle }
func (u *passkeyUser) WebAuthnName() string        { return u.name }
func (u *passkeyUser) WebAuthnDisplayName() string { return u.name }
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential {
	var out []webauthn.Credential
	for _, p := range u.rec.Passkeys {
		if p.RPID == u.rpID {
			out = append(out, p.Credential)
		}
	}
	return out
}

func (s *Store) webauthn(rp RP) (*webauthn.WebAuthn, error) {
	name := rp.Name
	if name == "" {
		name = s.issuer
	}
	w, err := webauthn.New(&webauthn.Config{RPID: rp.ID, RPDisplayName: name, RPOrigins: []string{rp.Origin},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: ChallengeTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: ChallengeTTL},
		}})
	if err != nil {
		return nil, fmt.Errorf("%w: relying party %q at %s: %v", ErrPasskey, rp.ID, rp.Origin, err)
	}
	return w, nil
}

// BeginRegistration starts registering a passkey of user at rp: it returns the options for the
// browser's navigator.credentials.create and keeps the ceremony's state in the user's record,
// for FinishRegistration (once). The passkey must be discoverable (a resident key) and verify
// the user.
func (s *Store) BeginRegistration(ctx context.Context, user string, rp RP) (options []byte, err error) {
	w, err := s.webauthn(rp)
	if err != nil {
		return nil, err
	}
	err = s.update(ctx, user, func(rec *Record) error {
		u := &passkeyUser{handle: s.keys.userHandle(user), name: user, rec: rec, rpID: rp.ID}
		creation, sd, err := w.BeginRegistration(u,
			webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
				ResidentKey:      protocol.ResidentKeyRequirementRequired,
				UserVerification: protocol.VerificationRequired,
			}),
			webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
			webauthn.WithExclusions(webauthn.Credentials(u.WebAuthnCredentials()).CredentialDescriptors()))
		if err != nil {
			return fmt.Errorf("%w: %v", ErrPasskey, err)
		}
		if options, err = json.Marshal(creation); err != nil {
			return err
		}
		state, err := json.Marshal(sd)
		if err != nil {
			return err
		}
		rec.PendingPasskey = &pendingCeremony{State: state, Created: s.now().UTC()}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return options, nil
}

// FinishRegistration checks the browser's answer (body) against the registration under way
// (which it ends, whatever the outcome) and adds the passkey to user's factors.
func (s *Store) FinishRegistration(ctx context.Context, user string, rp RP, body []byte) error {
	w, err := s.webauthn(rp)
	if err != nil {
		return err
	}
	parsed, perr := protocol.ParseCredentialCreationResponseBody(bytes.NewReader(body))
	var verr error
	err = s.update(ctx, user, func(rec *Record) error {
		pending := rec.PendingPasskey
		if pending == nil {
			return fmt.Errorf("%w: no registration under way", ErrPasskey)
		}
		rec.PendingPasskey = nil // single use: a refused answer ends the ceremony too
		verr = s.register(w, user, rp, rec, pending, parsed, perr)
		return nil
	})
	if err != nil {
		return err
	}
	return verr
}

// register verifies a registration answer and adds the passkey to rec.
func (s *Store) register(w *webauthn.WebAuthn, user string, rp RP, rec *Record, pending *pendingCeremony, parsed *protocol.ParsedCredentialCreationData, perr error) error {
	if perr != nil {
		return fmt.Errorf("%w: %v", ErrPasskey, perr)
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(pending.State, &sd); err != nil || s.now().Sub(pending.Created) > ChallengeTTL {
		return fmt.Errorf("%w: the registration expired", ErrPasskey)
	}
	{
		u := &passkeyUser{handle: s.keys.userHandle(user), name: user, rec: rec, rpID: rp.ID}
		cred, err := w.CreateCredential(u, sd, parsed)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrPasskey, err)
		}
		if !cred.Flags.UserVerified {
			return fmt.Errorf("%w: the authenticator did not verify the user", ErrPasskey)
		}
		for _, p := range rec.Passkeys {
			if bytes.Equal(p.Credential.ID, cred.ID) {
				return fmt.Errorf("%w: the passkey is registered already", ErrPasskey)
			}
		}
		rec.Passkeys = append(rec.Passkeys, Passkey{Credential: *cred, RPID: rp.ID, Created: s.now().UTC()})
		return nil
	}
}

// BeginLogin starts a passkey login at rp: for user (a second factor after the password), or
// with user "" for any user whose discoverable passkey the browser has (the passkey alone).
// User verification is required either way.
func (s *Store) BeginLogin(ctx context.Context, user string, rp RP) (options []byte, state []byte, err error) {
	w, err := s.webauthn(rp)
	if err != nil {
		return nil, nil, err
	}
	var (
		assertion *protocol.CredentialAssertion
		sd        *webauthn.SessionData
	)
	if user == "" {
		assertion, sd, err = w.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	} else {
		rec, lerr := s.load(ctx, s.recordKey(user))
		if lerr != nil {
			return nil, nil, lerr
		}
		u := &passkeyUser{handle: s.keys.userHandle(user), name: user, rec: rec, rpID: rp.ID}
		if len(u.WebAuthnCredentials()) == 0 {
			return nil, nil, ErrNotEnrolled
		}
		assertion, sd, err = w.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationRequired))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrPasskey, err)
	}
	if options, err = json.Marshal(assertion); err != nil {
		return nil, nil, err
	}
	if state, err = json.Marshal(sd); err != nil {
		return nil, nil, err
	}
	return options, state, nil
}

// FinishLogin checks the browser's assertion (body) against the ceremony's state: for user, or
// with user "" for whichever user the passkey's user handle names. It returns the user and the
// amr method ("hwk" for a passkey bound to its device, "swk" for one that may be synced), and
// records the new signature counter; a counter going backwards is ErrCounter.
func (s *Store) FinishLogin(ctx context.Context, user string, rp RP, state, body []byte) (string, string, error) {
	w, err := s.webauthn(rp)
	if err != nil {
		return "", "", err
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(state, &sd); err != nil {
		return "", "", fmt.Errorf("%w: no login under way", ErrPasskey)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(bytes.NewReader(body))
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrPasskey, err)
	}
	if user == "" {
		handle := parsed.Response.UserHandle
		if len(handle) != 32 {
			return "", "", fmt.Errorf("%w: the passkey names no user of this site", ErrPasskey)
		}
		rec, err := s.load(ctx, s.prefix+"users/"+hex.EncodeToString(handle))
		if err != nil {
			return "", "", err
		}
		if rec.Username == "" {
			return "", "", fmt.Errorf("%w: the passkey names no user of this site", ErrPasskey)
		}
		user = rec.Username
	}
	method := ""
	err = s.update(ctx, user, func(rec *Record) error {
		u := &passkeyUser{handle: s.keys.userHandle(user), name: user, rec: rec, rpID: rp.ID}
		var cred *webauthn.Credential
		var err error
		if len(sd.UserID) == 0 {
			_, cred, err = w.ValidatePasskeyLogin(func(_, _ []byte) (webauthn.User, error) { return u, nil }, sd, parsed)
		} else {
			cred, err = w.ValidateLogin(u, sd, parsed)
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrPasskey, err)
		}
		if cred.Authenticator.CloneWarning {
			return ErrCounter
		}
		for i := range rec.Passkeys {
			if bytes.Equal(rec.Passkeys[i].Credential.ID, cred.ID) && rec.Passkeys[i].RPID == rp.ID {
				rec.Passkeys[i].Credential = *cred
			}
		}
		method = "hwk"
		if cred.Flags.BackupEligible {
			method = "swk"
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	return user, method, nil
}
