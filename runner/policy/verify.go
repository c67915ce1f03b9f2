package policy

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/util"
)

// Verification says how Load checks a bundle's signature. The format is
// OPA's: .signatures.json at the bundle root holds one JWT whose "files"
// claim lists every file of the bundle with its SHA-256, so a bundle signed by
// `vigil bundle build --signing-key` (or by `opa build` for OPA-only bundles)
// verifies here.
type Verification struct {
	Key       string // the PEM public key (RS*, PS*, ES*) or the shared secret (HS*): the key itself, not a path
	Algorithm string // RS256 when empty
	Scope     string // when set, the token's scope must match
	Required  bool   // refuse a bundle that carries no signature
}

// WithVerification makes Load check the bundle's signature against the key
// before anything in it is parsed: a file changed, added or removed after
// signing refuses the bundle, and with Required so does a bundle without a
// signature. Without this option signatures are not checked.
func WithVerification(v Verification) Option {
	return func(o *options) { o.verification = &v }
}

// keyID names the one trusted key; the token's own kid is not consulted, so
// a bundle signed under any key id verifies against the configured key.
const keyID = "vigil"

// DefaultSigningAlgorithm signs and verifies when none is named.
const DefaultSigningAlgorithm = "RS256"

// verifyBundle checks the signature over every file Load would use. files
// are bundle-relative slash paths; sig is .signatures.json, nil when absent.
func verifyBundle(root string, files map[string][]byte, sig []byte, v *Verification) *Error {
	if v == nil {
		return nil
	}
	sigFile := filepath.Join(root, SignaturesFile)
	if sig == nil {
		if v.Required {
			return &Error{File: root, Msg: "unsigned bundle refused: signatures are required (policies.require_signature) and the bundle has no " + SignaturesFile}
		}
		return nil
	}
	if v.Key == "" {
		if v.Required {
			return &Error{File: sigFile, Msg: "signatures are required but no verification key is configured (policies.verification_key)"}
		}
		return nil
	}
	var sc bundle.SignaturesConfig
	if err := json.Unmarshal(sig, &sc); err != nil {
		return jsonError(sigFile, sig, err)
	}
	keys := map[string]*bundle.KeyConfig{keyID: {Key: v.Key, Algorithm: cmp.Or(v.Algorithm, DefaultSigningAlgorithm), Scope: v.Scope}}
	signed, err := bundle.VerifyBundleSignature(sc, bundle.NewVerificationConfig(keys, keyID, v.Scope, nil))
	if err != nil {
		return &Error{File: sigFile, Msg: "bundle signature refused: " + err.Error()}
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		file := filepath.Join(root, filepath.FromSlash(name))
		if _, ok := signed[name]; !ok {
			return &Error{File: file, Msg: "tampered bundle refused: the file is not in the bundle signature (added after signing)"}
		}
		if err := bundle.VerifyBundleFile(name, *bytes.NewBuffer(files[name]), signed); err != nil {
			msg := err.Error()
			if strings.Contains(msg, "digest mismatch") {
				msg = "the file does not match its hash in the bundle signature (changed after signing)"
			}
			return &Error{File: file, Msg: "tampered bundle refused: " + msg}
		}
	}
	if len(signed) > 0 {
		return &Error{File: root, Msg: fmt.Sprintf("tampered bundle refused: signed file(s) missing (removed after signing): %s",
			strings.Join(slices.Sorted(maps.Keys(signed)), ", "))}
	}
	return nil
}

// fileHash is a file's entry in a signature, hashed as OPA hashes it: data
// documents and the manifest as canonical JSON, everything else as bytes.
func fileHash(name string, data []byte) (bundle.FileInfo, error) {
	h, err := bundle.NewSignatureHasher(bundle.SHA256)
	if err != nil {
		return bundle.FileInfo{}, err
	}
	var v any = data
	if bundle.IsStructuredDoc(name) {
		var doc any
		if err := util.Unmarshal(data, &doc); err != nil {
			return bundle.FileInfo{}, fmt.Errorf("%s: %w", name, err)
		}
		v = doc
	}
	sum, err := h.HashFile(v)
	if err != nil {
		return bundle.FileInfo{}, fmt.Errorf("%s: %w", name, err)
	}
	return bundle.NewFile(name, fmt.Sprintf("%x", sum), bundle.SHA256.String()), nil
}
