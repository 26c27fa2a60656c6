package handlers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
)

// cursorSecretName is the installation secret (Store.Secret) the API's
// page cursors are signed with: the same for every process on the
// database, so a cursor from one replica works on the next.
const cursorSecretName = "api_cursor"

// secretStore hands out the installation's named secrets.
type secretStore interface {
	Secret(ctx context.Context, name string) ([]byte, error)
}

// secretKey is one named secret, read from storage on first use and kept:
// a secret never changes once created, so the copy cannot go stale, and a
// list request need not read it again. A failed read is not kept.
type secretKey struct {
	store secretStore
	name  string
	mu    sync.Mutex
	key   []byte
}

func (k *secretKey) get(ctx context.Context) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key != nil {
		return k.key, nil
	}
	key, err := k.store.Secret(ctx, k.name)
	if err != nil {
		return nil, fmt.Errorf("read the %s secret: %w", k.name, err)
	}
	k.key = key
	return key, nil
}

// A cursor is the keyset of a page, the row id of the last item shown,
// opaque to clients:
//
//	base64url( version (1 byte) || id XOR pad (8 bytes) || tag (32 bytes) )
//	tag = HMAC-SHA256(macKey, "leadbox-cursor" || version || scope || id)
//	pad = HMAC-SHA256(encKey, tag)[:8]
//
// The tag signs the id together with scope, the SHA-256 of the listing
// and its normalised filter, so a cursor is refused by any other listing
// or filter: it can never reach rows outside the filter it was made for,
// and a changed byte is refused. The id is hidden behind the pad (the tag
// serves as a synthetic IV, as in SIV): row ids never leave the server,
// and would tell how many leads there are. macKey and encKey are derived
// from the installation's cursor secret.
const (
	cursorVersion = 1
	cursorLen     = 1 + 8 + sha256.Size
)

// errBadCursor is any cursor that was not made by this installation for
// this listing.
var errBadCursor = errors.New("not a cursor of this listing")

// cursorKeys derives the signing and hiding keys from the cursor secret.
func cursorKeys(secret []byte) (macKey, encKey []byte) {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	return derive("leadbox cursor mac"), derive("leadbox cursor enc")
}

func cursorTag(macKey, scope []byte, id uint64) []byte {
	m := hmac.New(sha256.New, macKey)
	m.Write([]byte("leadbox-cursor"))
	m.Write([]byte{cursorVersion})
	m.Write(scope)
	m.Write(binary.BigEndian.AppendUint64(nil, id))
	return m.Sum(nil)
}

func cursorPad(encKey, tag []byte) uint64 {
	m := hmac.New(sha256.New, encKey)
	m.Write(tag)
	return binary.BigEndian.Uint64(m.Sum(nil))
}

// makeCursor returns the cursor of the page after the row with id in the
// listing scope.
func makeCursor(secret, scope []byte, id int64) string {
	macKey, encKey := cursorKeys(secret)
	tag := cursorTag(macKey, scope, uint64(id))
	b := make([]byte, 0, cursorLen)
	b = append(b, cursorVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(id)^cursorPad(encKey, tag))
	b = append(b, tag...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// keysetPage cuts rows, read one past limit, to one page and returns
// the cursor of the next page, nil when rows held no more than the page
// (reading one more is how the last page knows it is the last, rather than
// leading to an empty one). id is a row's keyset id.
func keysetPage[T any](rows []T, limit int, secret, scope []byte, id func(T) int64) ([]T, *string) {
	if len(rows) <= limit {
		return rows, nil
	}
	rows = rows[:limit]
	next := makeCursor(secret, scope, id(rows[len(rows)-1]))
	return rows, &next
}

// openCursor returns the row id a cursor of the listing scope carries, or
// errBadCursor.
func openCursor(secret, scope []byte, cursor string) (int64, error) {
	if len(cursor) != base64.RawURLEncoding.EncodedLen(cursorLen) {
		return 0, errBadCursor
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	if err != nil || len(b) != cursorLen || b[0] != cursorVersion {
		return 0, errBadCursor
	}
	macKey, encKey := cursorKeys(secret)
	tag := b[9:]
	id := binary.BigEndian.Uint64(b[1:9]) ^ cursorPad(encKey, tag)
	if !hmac.Equal(tag, cursorTag(macKey, scope, id)) || id == 0 || id > 1<<63-1 {
		return 0, errBadCursor
	}
	return int64(id), nil
}

// scopeOf is the SHA-256 of a listing's name and its normalised filter
// values, each written with its length so that no two lists of values
// encode alike.
func scopeOf(listing string, values ...string) []byte {
	h := sha256.New()
	for _, v := range append([]string{listing}, values...) {
		h.Write([]byte(strconv.Itoa(len(v))))
		h.Write([]byte{':'})
		h.Write([]byte(v))
		h.Write([]byte{'\n'})
	}
	return h.Sum(nil)
}
