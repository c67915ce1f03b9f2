package sms

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Signer authenticates one Aliyun API call: it adds the common parameters
// its scheme needs to the call's own and returns the request to send. The
// RPC (V2, HMAC-SHA1) scheme is RPCSigner; Aliyun recommends its V3
// (ACS3-HMAC-SHA256) scheme for new code, which a Signer can implement
// without the channel changing.
type Signer interface {
	Request(ctx context.Context, endpoint string, params url.Values) (*http.Request, error)
}

// RPCSigner signs RPC-style calls (SignatureMethod HMAC-SHA1,
// SignatureVersion 1.0) and POSTs them as a form.
type RPCSigner struct {
	AccessKeyID     string
	AccessKeySecret string
	Now             func() time.Time // default time.Now
	Nonce           func() string    // a fresh SignatureNonce per call (default: a random UUID)
}

// Request implements Signer.
func (s RPCSigner) Request(ctx context.Context, endpoint string, params url.Values) (*http.Request, error) {
	now, nonce := time.Now, uuid.NewString
	if s.Now != nil {
		now = s.Now
	}
	if s.Nonce != nil {
		nonce = s.Nonce
	}
	p := make(url.Values, len(params)+7)
	for k, v := range params {
		p[k] = slices.Clone(v)
	}
	p.Set("AccessKeyId", s.AccessKeyID)
	p.Set("Format", "JSON")
	p.Set("SignatureMethod", "HMAC-SHA1")
	p.Set("SignatureVersion", "1.0")
	p.Set("SignatureNonce", nonce())
	p.Set("Timestamp", now().UTC().Format("2006-01-02T15:04:05Z"))
	sig, _ := SignRPC(http.MethodPost, s.AccessKeySecret, p)
	body := "Signature=" + PercentEncode(sig) + "&" + Canonical(p)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// SignRPC is Aliyun's RPC signature of a call: base64(HMAC-SHA1(key =
// secret + "&", message = METHOD + "&" + enc("/") + "&" + enc(canonical))),
// where canonical is the parameters but Signature, sorted and encoded
// (Canonical). It also returns the string it signed.
func SignRPC(method, secret string, params url.Values) (signature, stringToSign string) {
	stringToSign = method + "&" + PercentEncode("/") + "&" + PercentEncode(Canonical(params))
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil)), stringToSign
}

// Canonical is the parameters except Signature, sorted by name, each
// name=value percent-encoded, joined by &.
func Canonical(params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range params[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(PercentEncode(k))
			b.WriteByte('=')
			b.WriteString(PercentEncode(v))
		}
	}
	return b.String()
}

var rfc3986 = strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~")

// PercentEncode is the RFC 3986 encoding Aliyun signs with: UTF-8, only
// A-Z a-z 0-9 - _ . ~ left as they are, a space as %20.
func PercentEncode(s string) string { return rfc3986.Replace(url.QueryEscape(s)) }
