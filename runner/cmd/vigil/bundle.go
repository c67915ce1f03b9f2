package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vigil-risk/vigil/runner/config"
	"github.com/vigil-risk/vigil/runner/policy"
)

func (c *cli) bundleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bundle", Short: "Build and verify OPA bundles of the policies"}
	cmd.AddCommand(c.bundleBuildCmd(), c.bundleVerifyCmd())
	return cmd
}

func (c *cli) bundleBuildCmd() *cobra.Command {
	var (
		out, revision, signingKey, signingAlg, keyID string
		roots                                        []string
	)
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Pack the policies as an OPA bundle .tar.gz, optionally signed",
		Long: `Build compiles the policies (a bundle that would not load is not built) and writes
them as an OPA bundle: every file the runner loads, Rego unit tests left out, with a
.manifest holding the revision (the git commit of the policies unless --revision), the
roots and rego_version 1. With --signing-key it adds .signatures.json (OPA's format, a
JWT over every file's SHA-256); a runner with policies.verification_key refuses the
bundle if any file changes afterwards, and with policies.require_signature refuses
unsigned bundles. The same files give the same archive, byte for byte.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig(cmd.Flags(), shortcut{"policies", "policies.path"})
			if err != nil {
				return err
			}
			o := policy.BuildOptions{Revision: revision, Roots: roots, SigningAlgorithm: signingAlg, KeyID: keyID}
			if signingKey != "" {
				key, err := os.ReadFile(signingKey)
				if err != nil {
					return fmt.Errorf("--signing-key: %w", err)
				}
				o.SigningKey = strings.TrimSpace(string(key))
			}
			var buf bytes.Buffer
			res, err := policy.Build(cmd.Context(), cfg.Policies.Path, &buf, o)
			if err != nil {
				return oneLine(err)
			}
			if dir := filepath.Dir(out); dir != "." {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return fmt.Errorf("--out: %w", err)
				}
			}
			if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			signed := "unsigned"
			if res.Signed {
				signed = "signed"
			}
			fmt.Fprintf(c.stdout, "%s: revision %s, %d rules, %d files, roots %s, %s\n",
				out, res.Revision, res.Rules, len(res.Files), strings.Join(res.Roots, ","), signed)
			return nil
		},
	}
	f := cmd.Flags()
	f.String("policies", "", "bundle directory (policies.path)")
	f.StringVarP(&out, "out", "o", "bundle.tar.gz", "the bundle file to write")
	f.StringVar(&revision, "revision", "", "the manifest's revision (default: the git commit of the policies, -dirty when they have changes)")
	f.StringSliceVar(&roots, "root", nil, "a data root the bundle owns (repeatable; default: the first segment of every package and data key)")
	f.StringVar(&signingKey, "signing-key", "", "sign with this key file: a PEM private key (RS*, PS*, ES*) or the HMAC secret (HS*)")
	f.StringVar(&signingAlg, "signing-alg", policy.DefaultSigningAlgorithm, "signature algorithm: RS256, PS256, ES256, HS256 (or 384/512 variants)")
	f.StringVar(&keyID, "key-id", "", `the key id in the signature (default "vigil")`)
	return cmd
}

func (c *cli) bundleVerifyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "verify BUNDLE",
		Short: "Check a bundle as the runner would load it: compile, and the signature against policies.verification_key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := c.loadConfig(cmd.Flags(), shortcut{"verification-key", "policies.verification_key"},
				shortcut{"require-signature", "policies.require_signature"})
			if err != nil {
				return err
			}
			opts, err := verification(cfg.Policies)
			if err != nil {
				return err
			}
			p, err := policy.Load(cmd.Context(), args[0], opts...)
			if err != nil {
				return oneLine(err)
			}
			check := "signature not checked (no policies.verification_key)"
			if cfg.Policies.VerificationKey != "" {
				check = "signature verified or not required"
				if cfg.Policies.RequireSignature {
					check = "signature verified"
				}
			}
			fmt.Fprintf(c.stdout, "%s: ok, revision %s, %d rules, %s\n", args[0], p.Revision, len(p.Rules), check)
			return nil
		},
	}
	cmd.Flags().String("verification-key", "", "the public key (or HMAC secret) file (policies.verification_key)")
	cmd.Flags().Bool("require-signature", false, "refuse an unsigned bundle (policies.require_signature)")
	return cmd
}

// verification turns the policies config into the engine's signature check:
// none without a key (config validation refuses require_signature without
// one).
func verification(p config.PoliciesConfig) ([]policy.Option, error) {
	if p.VerificationKey == "" {
		return nil, nil
	}
	key, err := os.ReadFile(p.VerificationKey)
	if err != nil {
		return nil, fmt.Errorf("policies.verification_key: %w", err)
	}
	return []policy.Option{policy.WithVerification(policy.Verification{
		Key: strings.TrimSpace(string(key)), Algorithm: p.VerificationAlgorithm, Required: p.RequireSignature,
	})}, nil
}
