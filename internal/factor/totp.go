package factor

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"image/png"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// The TOTP parameters: what every authenticator app supports (RFC 6238's defaults).
const (
	totpPeriod = 30 // seconds per step
	totpDigits = otp.DigitsSix
	// totpSkew is the window: the step before and after the current one are accepted too, for
	// clocks a little apart and a code typed as its step ends.
	totpSkew = 1
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}

// Enrolment is a new TOTP secret being enrolled: what the page shows.
type Enrolment struct {
	// Secret is the base32 secret, to type into an app by hand.
	Secret string
	// URL is the otpauth:// URL the QR code holds.
	URL string
	// QR is the QR code as a PNG data: URL, for an <img> on the page.
	QR string
}

// newTOTP makes a TOTP secret for account at issuer (the names an app shows).
func newTOTP(issuer, account string) (*Enrolment, []byte, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: account,
		Period:      totpPeriod,
		Digits:      totpDigits,
		Algorithm:   otp.AlgorithmSHA1,
		SecretSize:  20, // 160 bits, RFC 4226's recommendation
	})
	if err != nil {
		return nil, nil, err
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, nil, err
	}
	e := &Enrolment{
		Secret: key.Secret(),
		URL:    key.URL(),
		QR:     "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()),
	}
	return e, []byte(key.Secret()), nil
}

// checkTOTP checks code against secret (base32) at now: it returns the time step the code
// belongs to, which must be after lastStep (a code, or an earlier one, is never accepted twice).
// Each step of the window is compared in constant time.
func checkTOTP(secret []byte, code string, now time.Time, lastStep int64) (int64, error) {
	if !wellFormedTOTP(code) {
		return 0, ErrMalformed
	}
	cur := now.Unix() / totpPeriod
	var matched int64 = -1
	for s := cur - totpSkew; s <= cur+totpSkew; s++ {
		want, err := totp.GenerateCodeCustom(string(secret), time.Unix(s*totpPeriod, 0), totpOpts)
		if err != nil {
			return 0, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && matched < 0 {
			matched = s
		}
	}
	switch {
	case matched < 0:
		return 0, ErrWrong
	case matched <= lastStep:
		return 0, ErrReplayed
	}
	return matched, nil
}

// wellFormedTOTP reports whether code is six ASCII digits.
func wellFormedTOTP(code string) bool {
	if len(code) != 6 {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}
