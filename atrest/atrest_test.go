package atrest_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/contextd/contextd/atrest"
)

func key(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, atrest.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseKey(t *testing.T) {
	k := key(t)
	for _, s := range []string{hex.EncodeToString(k), strings.ToUpper(hex.EncodeToString(k)), " " + hex.EncodeToString(k) + "\n",
		base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k)} {
		got, err := atrest.ParseKey(s)
		if err != nil || !bytes.Equal(got, k) {
			t.Errorf("ParseKey(%q) = %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "short", hex.EncodeToString(k[:16]), base64.StdEncoding.EncodeToString(k[:31]), hex.EncodeToString(k) + "00",
		"correct horse battery staple and some more words to reach 64 chars"} {
		if _, err := atrest.ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) took it", s)
		} else if len(s) > 8 && strings.Contains(err.Error(), s) {
			t.Errorf("the error repeats the key: %v", err)
		}
	}
	keys, err := atrest.ParseKeys("# old keys\n" + hex.EncodeToString(k) + "\n\n" + base64.StdEncoding.EncodeToString(k) + ", " + hex.EncodeToString(k) + "\r\n")
	if err != nil || len(keys) != 3 {
		t.Errorf("ParseKeys: %d keys, %v", len(keys), err)
	}
	if _, err := atrest.ParseKeys(hex.EncodeToString(k) + ",nope"); err == nil || !strings.Contains(err.Error(), "key 2") {
		t.Errorf("ParseKeys with a bad second key: %v", err)
	}
}

func TestSubkeys(t *testing.T) {
	k := key(t)
	s1, s2 := atrest.StoreKey(k), atrest.StoreKey(k)
	if !bytes.Equal(s1, s2) || len(s1) != atrest.KeySize || bytes.Equal(s1, k) {
		t.Errorf("StoreKey: %x %x (key %x)", s1, s2, k)
	}
	if bytes.Equal(atrest.StoreKey(key(t)), s1) {
		t.Error("two keys, one store key")
	}
	if atrest.StoreKey(nil) != nil || (&atrest.Keys{}).StoreKey() != nil {
		t.Error("a store key without a key")
	}
}

func seal(t *testing.T, k *atrest.Keys, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := k.Seal(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func open(k *atrest.Keys, data []byte) ([]byte, error) {
	r, err := k.Open(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestSealOpen(t *testing.T) {
	old, cur := key(t), key(t)
	plain := bytes.Repeat([]byte(`{"kind":"context","title":"secret marker"}`+"\n"), 5000) // several age chunks
	k := &atrest.Keys{Current: cur, Previous: [][]byte{old}}
	sealed := seal(t, k, plain)
	if !atrest.IsEncrypted(sealed) || bytes.Contains(sealed, []byte("secret marker")) {
		t.Fatal("the sealed file is not encrypted")
	}
	if got, err := open(k, sealed); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %d bytes, %v", len(got), err)
	}
	// After rotation the old file opens with the key among the previous ones.
	rotated := &atrest.Keys{Current: key(t), Previous: [][]byte{cur}}
	if got, err := open(rotated, sealed); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open with a previous key: %d bytes, %v", len(got), err)
	}
	if _, err := open(&atrest.Keys{Current: key(t)}, sealed); !errors.Is(err, atrest.ErrWrongKey) {
		t.Errorf("wrong key: %v", err)
	}
	if _, err := open(&atrest.Keys{}, sealed); !errors.Is(err, atrest.ErrNoKey) {
		t.Errorf("no key: %v", err)
	}
	// A plaintext file reads as is, with or without keys.
	for _, kk := range []*atrest.Keys{{}, k, nil} {
		if got, err := open(kk, plain); err != nil || !bytes.Equal(got, plain) {
			t.Errorf("plaintext: %d bytes, %v", len(got), err)
		}
	}
	if got, err := open(k, nil); err != nil || len(got) != 0 {
		t.Errorf("empty: %q, %v", got, err)
	}
	// Without a key Seal writes plaintext.
	if got := seal(t, &atrest.Keys{}, plain); !bytes.Equal(got, plain) {
		t.Error("Seal without a key changed the bytes")
	}
	// A flipped byte is found, not passed on.
	bad := bytes.Clone(sealed)
	bad[len(bad)-100] ^= 1
	if _, err := open(k, bad); err == nil {
		t.Error("a damaged file decrypted")
	}
}

// FuzzOpen: whatever the bytes, Open and reading its result end with data
// or an error, never a panic.
func FuzzOpen(f *testing.F) {
	k := &atrest.Keys{Current: bytes.Repeat([]byte{7}, atrest.KeySize)}
	var buf bytes.Buffer
	w, _ := k.Seal(&buf)
	w.Write([]byte("hello\n"))
	w.Close()
	f.Add(buf.Bytes())
	f.Add([]byte("age-encryption.org/v1\n-> scrypt x 10\n"))
	f.Add([]byte(`{"format":"contextd-export"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := k.Open(bytes.NewReader(data))
		if err != nil {
			return
		}
		io.ReadAll(r)
	})
}
