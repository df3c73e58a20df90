package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/relman-dev/relman"
)

// The environment variables of the signed audit trail.
const (
	envSigningKey   = "RELMAN_SIGNING_KEY"    // file holding the Ed25519 private key every write is signed with
	envSigningKeyID = "RELMAN_SIGNING_KEY_ID" // its key id, if the file names none
)

// signerOption returns the WithSigner option of RELMAN_SIGNING_KEY, or
// none when it is unset.
func (a *app) signerOption() ([]relman.Option, error) {
	path := a.getenv(envSigningKey)
	if path == "" {
		return nil, nil
	}
	sg, err := loadSigner(path, a.getenv(envSigningKeyID))
	if err != nil {
		return nil, usageErrorf("%s: %v", envSigningKey, err)
	}
	return []relman.Option{relman.WithSigner(sg)}, nil
}

// loadSigner reads an Ed25519 private key: PEM ("PRIVATE KEY", PKCS #8,
// with an optional Key-Id header) or base64 of the 32-byte seed or the
// 64-byte key on one line. id, if set, is the key id; else the PEM
// header's, else relman.KeyID of the public key.
func loadSigner(path, id string) (*relman.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var priv ed25519.PrivateKey
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("%s: PEM block %q, want PRIVATE KEY", path, blk.Type)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		p, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s: a %T, want an Ed25519 key", path, k)
		}
		priv = p
		if id == "" {
			id = blk.Headers["Key-Id"]
		}
	} else {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		switch {
		case err != nil:
			return nil, fmt.Errorf("%s: neither PEM nor base64: %v", path, err)
		case len(raw) == ed25519.SeedSize:
			priv = ed25519.NewKeyFromSeed(raw)
		case len(raw) == ed25519.PrivateKeySize:
			priv = ed25519.PrivateKey(raw)
		default:
			return nil, fmt.Errorf("%s: %d bytes, want a 32-byte seed or a 64-byte key", path, len(raw))
		}
	}
	return relman.NewSigner(id, priv)
}

// loadPublicKey reads an Ed25519 public key: PEM ("PUBLIC KEY", PKIX,
// with an optional Key-Id header) or base64 of its 32 bytes. It returns
// the key and its id: the header's, else relman.KeyID of the key.
func loadPublicKey(path string) (string, ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "PUBLIC KEY" {
			return "", nil, fmt.Errorf("%s: PEM block %q, want PUBLIC KEY", path, blk.Type)
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return "", nil, fmt.Errorf("%s: %v", path, err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return "", nil, fmt.Errorf("%s: a %T, want an Ed25519 key", path, k)
		}
		id := blk.Headers["Key-Id"]
		if id == "" {
			id = relman.KeyID(pub)
		}
		return id, pub, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return "", nil, fmt.Errorf("%s: neither PEM nor the base64 of 32 bytes", path)
	}
	return relman.KeyID(raw), ed25519.PublicKey(raw), nil
}

// pubkeys is the repeatable --pubkey flag.
type pubkeys []string

func (p *pubkeys) String() string     { return strings.Join(*p, ",") }
func (p *pubkeys) Set(v string) error { *p = append(*p, v); return nil }

func auditCmd() *command {
	var keys pubkeys
	var checkpoint, id string
	c := &command{
		name:    "audit",
		args:    "keygen FILE | export <id> | checkpoint | verify BUNDLE",
		summary: "the signed audit trail: keys, bundles verified offline, checkpoints",
		help: `
With RELMAN_SIGNING_KEY set to a file holding an Ed25519 private key
(PEM "PRIVATE KEY" with an optional "Key-Id" header, or the base64 of
its 32-byte seed; RELMAN_SIGNING_KEY_ID overrides the key id), every
command signs what it writes: each audit entry, and the release's head
with a digest of the release document. 'history --verify' then checks
the signatures too.

  audit keygen FILE [--id ID]   write a new private key to FILE (mode 0600)
                                and its public key to FILE.pub
  audit export <id> [--checkpoint CP]
                                write the release and its history as a
                                self-verifying bundle (JSON) to stdout
  audit checkpoint              write a signed checkpoint of every
                                release's head to stdout; keep it where
                                the database's owner cannot write
  audit verify BUNDLE --pubkey FILE [--pubkey FILE …]
                                verify a bundle offline with public keys
                                only: exit 0 verified, 1 tampered (the
                                fault is named), 2 bad input`,
	}
	c.flags = func(fs *flag.FlagSet, _ *cmdline) {
		fs.Var(&keys, "pubkey", "verify: a public key file (PEM or base64); repeat for rotated keys")
		fs.StringVar(&checkpoint, "checkpoint", "", "export: a checkpoint file to include in the bundle")
		fs.StringVar(&id, "id", "", "keygen: the key id (default: derived from the public key)")
	}
	c.run = func(ctx context.Context, a *app, cl *cmdline) error {
		if len(cl.args) == 0 {
			return usageErrorf("audit: want keygen, export, checkpoint or verify (see 'releasectl audit --help')")
		}
		switch cl.args[0] {
		case "keygen":
			if err := cl.want("keygen", "file"); err != nil {
				return err
			}
			return keygen(a, cl.args[1], id)
		case "export":
			if err := cl.want("export", "id"); err != nil {
				return err
			}
			return auditExport(ctx, a, cl, cl.args[1], checkpoint)
		case "checkpoint":
			if err := cl.want("checkpoint"); err != nil {
				return err
			}
			s, err := a.open(ctx, cl)
			if err != nil {
				return err
			}
			defer s.close()
			cp, err := s.m.Checkpoint(ctx)
			if err != nil {
				if errors.Is(err, relman.ErrInvalid) {
					return usageErrorf("audit checkpoint: set %s to the signing key", envSigningKey)
				}
				return explain(cl, "", err)
			}
			return writeJSON(a.stdout, cp)
		case "verify":
			if err := cl.want("verify", "bundle"); err != nil {
				return err
			}
			return auditVerify(a, cl, cl.args[1], keys)
		}
		return usageErrorf("audit: unknown %q: want keygen, export, checkpoint or verify", cl.args[0])
	}
	return c
}

func keygen(a *app, path, id string) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if id == "" {
		id = relman.KeyID(pub)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	hdr := map[string]string{"Key-Id": id}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return usageErrorf("audit keygen: %v", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Headers: hdr, Bytes: pk}); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(path+".pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Headers: hdr, Bytes: pubDER}), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "key %s: private key in %s, public key in %s.pub\nsign with: export %s=%s\n", id, path, path, envSigningKey, path)
	return nil
}

func auditExport(ctx context.Context, a *app, cl *cmdline, id, cpPath string) error {
	var cp *relman.Checkpoint
	if cpPath != "" {
		b, err := a.readInput(cpPath)
		if err != nil {
			return usageErrorf("audit export: %v", err)
		}
		cp = new(relman.Checkpoint)
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		if err := d.Decode(cp); err != nil {
			return usageErrorf("audit export: checkpoint %s: %v", cpPath, err)
		}
	}
	s, r, err := a.openRelease(ctx, cl, id)
	if err != nil {
		return err
	}
	defer s.close()
	h, err := s.m.History(ctx, id)
	if err != nil {
		return explain(cl, id, err)
	}
	return relman.ExportBundle(a.stdout, r, h, cp)
}

func auditVerify(a *app, cl *cmdline, path string, files pubkeys) error {
	if len(files) == 0 {
		return usageErrorf("audit verify: want at least one --pubkey FILE")
	}
	keys := relman.Keyring{}
	for _, f := range files {
		id, pub, err := loadPublicKey(f)
		if err != nil {
			return usageErrorf("audit verify: %v", err)
		}
		keys[id] = pub
	}
	b, err := a.readInput(path)
	if err != nil {
		return usageErrorf("audit verify: %v", err)
	}
	rep, err := relman.VerifyBundle(bytes.NewReader(b), keys)
	switch {
	case errors.Is(err, relman.ErrCorruptHistory), errors.Is(err, relman.ErrCheckpoint):
		return refusedf("audit verify: %s: TAMPERED: %s", path, trimLib(err.Error()))
	case err != nil:
		return usageErrorf("audit verify: %s: %s", path, trimLib(err.Error()))
	}
	if cl.json() {
		return writeJSON(a.stdout, rep)
	}
	cp := "no checkpoint"
	if rep.Checkpoint {
		cp = "holds its checkpoint"
	}
	fmt.Fprintf(a.stdout, "verified: release %s (%s), %d entries (%d unsigned, from before signing), signed by %s, document matches its head, %s\n",
		rep.ReleaseID, rep.Stage, rep.Entries, rep.Unsigned, strings.Join(rep.KeyIDs, ", "), cp)
	return nil
}
