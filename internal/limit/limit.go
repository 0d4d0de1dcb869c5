// Package limit holds the issuer's defences against brute force and login floods: per-key rate
// limits (client IP, username) and a gate bounding how many password hashes run at once.
package limit
