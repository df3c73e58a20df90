package runner

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/relman-dev/relman"
)

// Headers of a webhook delivery.
const (
	// HeaderSignature carries "t=<unix seconds>,v1=<hex HMAC-SHA256>" where
	// the HMAC, keyed with the shared secret, covers the timestamp, a dot
	// and the body: "<t>.<body>".
	HeaderSignature = "Relman-Signature"
	// HeaderIdempotencyKey carries Notification.Key ("<release id>/<seq>"):
	// a receiver that has seen it has seen this change.
	HeaderIdempotencyKey = "Idempotency-Key"
)

// MinSecretLen is the shortest webhook secret NewWebhook accepts, in
// bytes.
const MinSecretLen = 32

// DefaultWebhookTimeout bounds one delivery when WebhookOptions.Timeout
// is zero.
const DefaultWebhookTimeout = 10 * time.Second

// Errors of VerifySignature.
var (
	// ErrSignature: the signature header is missing, malformed, or does
	// not match the body under the secret.
	ErrSignature = errors.New("runner: webhook signature does not verify")
	// ErrSignatureExpired: the signature is valid but its timestamp is
	// further from now than the tolerance (a replayed request).
	ErrSignatureExpired = errors.New("runner: webhook signature timestamp outside the tolerance")
)

// WebhookOptions configures a Webhook. The zero value means the defaults.
type WebhookOptions struct {
	// Timeout bounds one delivery, connection and response included
	// (default 10 s).
	Timeout time.Duration
	// Client sends the requests (default: a client of its own with
	// Timeout).
	Client *http.Client
	// Clock is read for the signature's timestamp (default time.Now).
	Clock func() time.Time
}

// Webhook is a Sink that POSTs each notification as JSON (see
// WebhookBody) to a URL. Every request carries HeaderIdempotencyKey and
// HeaderSignature; receivers check the latter with VerifySignature. A 2xx
// answer means delivered; anything else, or no answer within the timeout,
// is a failed attempt that the runner retries.
type Webhook struct {
	url    string
	secret []byte
	client *http.Client
	clock  func() time.Time
}

// WebhookBody is the JSON body of a webhook delivery.
type WebhookBody struct {
	Key       string            `json:"key"` // the idempotency key, as in HeaderIdempotencyKey
	ReleaseID string            `json:"release_id"`
	Seq       int64             `json:"seq"`
	Attempt   int               `json:"attempt"` // 1 for the first delivery
	Entry     relman.AuditEntry `json:"entry"`
}

// NewWebhook returns a Webhook posting to rawURL, signing with secret. It
// fails with a *relman.ValidationError naming the field: a URL that is
// not absolute http or https with a host ("url"), a secret shorter than
// MinSecretLen bytes ("secret"), a negative timeout ("timeout").
func NewWebhook(rawURL string, secret []byte, o WebhookOptions) (*Webhook, error) {
	var fs []relman.FieldError
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fs = append(fs, relman.FieldError{Field: "url", Rule: "url", Param: "http or https"})
	}
	if len(secret) < MinSecretLen {
		fs = append(fs, relman.FieldError{Field: "secret", Rule: "min", Param: strconv.Itoa(MinSecretLen)})
	}
	if o.Timeout < 0 {
		fs = append(fs, relman.FieldError{Field: "timeout", Rule: "gte", Param: "0"})
	}
	if len(fs) > 0 {
		return nil, &relman.ValidationError{Fields: fs}
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultWebhookTimeout
	}
	c := o.Client
	if c == nil {
		c = &http.Client{Timeout: o.Timeout}
	}
	clock := o.Clock
	if clock == nil {
		clock = time.Now
	}
	return &Webhook{url: u.String(), secret: bytes.Clone(secret), client: c, clock: clock}, nil
}

// Deliver implements Sink.
func (w *Webhook) Deliver(ctx context.Context, n relman.Notification) error {
	body, err := json.Marshal(WebhookBody{Key: n.Key(), ReleaseID: n.Entry.ReleaseID, Seq: n.Entry.Seq, Attempt: n.Attempts + 1, Entry: n.Entry})
	if err != nil {
		return fmt.Errorf("webhook: encode %s: %w", n.Key(), err)
	}
	ctx, cancel := context.WithTimeout(ctx, w.client.Timeout+time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "relman-runner")
	req.Header.Set(HeaderIdempotencyKey, n.Key())
	req.Header.Set(HeaderSignature, Sign(w.secret, w.clock(), body))
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: post %s: %w", n.Key(), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook: post %s: %s", n.Key(), resp.Status)
	}
	return nil
}

// Sign returns the value of HeaderSignature for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// VerifySignature checks a webhook request as a receiver should: header
// is the request's HeaderSignature value, body the raw request body,
// secret the shared secret. The signature must match, in constant time,
// and its timestamp must lie within tolerance of now (a tolerance of 0
// means 5 minutes), so that a captured request cannot be replayed later.
// It returns nil, an error matching ErrSignature, or one matching
// ErrSignatureExpired. Deduplicate accepted requests by
// HeaderIdempotencyKey: delivery is at least once.
//
//	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
//	if err := runner.VerifySignature(secret, r.Header.Get(runner.HeaderSignature), body, time.Now(), 0); err != nil {
//		http.Error(w, "bad signature", http.StatusUnauthorized)
//		return
//	}
func VerifySignature(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = 5 * time.Minute
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("%w: header %q is not t=<unix>,v1=<hex>", ErrSignature, header)
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			ok = true
		}
	}
	if !ok {
		return ErrSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %s, %s from now", ErrSignatureExpired, time.Unix(sec, 0).UTC().Format(time.RFC3339), d.Round(time.Second))
	}
	return nil
}
