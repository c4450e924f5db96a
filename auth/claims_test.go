package auth

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzClaimsDecode checks that the fast claims decoder, whenever it
// accepts an input, decodes exactly what encoding/json does.
func FuzzClaimsDecode(f *testing.F) {
	for _, s := range []string{
		`{"iss":"test","sub":"alice","aud":["test"],"exp":1795294495,"nbf":1795293595,"iat":1795293595,"jti":"CJZYV7","roles":["admin"],"tenant":"acme"}`,
		`{"iss":"a","aud":"b","exp":1.5e9,"plan":"pro","n":3,"nested":{"a":[1,{"b":"}"}]},"roles":[]}`,
		`{"sub":"x","sub":"y","roles":["a"],"roles":["b","c"]}`,
		`{"EXP":5,"Sub":"z"}`, `{"sub":"\u00e9"}`, `{"sub":null}`, `{"exp":"1"}`, `{"aud":[]}`,
		`{"we\"ird":1,"x":"a\\b"}`, ` { "sub" : "s" , "exp" : -1 } `, `{}`, `{"exp":1e400}`,
		"{\"sub\":\"\xff\"}", `{"roles":[1]}`, `{"aud":null}`, `{"x":[],"y":{},"z":true,"w":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return // golang-jwt's json.Unmarshal validates before calling UnmarshalJSON
		}
		var fast claims
		if !fast.fastDecode(b) {
			return
		}
		var slow claims
		if err := slow.slowDecode(b); err != nil {
			t.Fatalf("%s: the fast decoder accepted what encoding/json rejects: %v", b, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%s:\nfast %#v\nslow %#v", b, fast, slow)
		}
	})
}
