package core

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"

	"trel/internal/domain"
)

// Signing-password rules. The minimum counts characters, not bytes.
const (
	MaxSigningPassword = 1024 // bytes: a bound, not advice
	// MinPasswordScore is zxcvbn's score (0..4) a signing password needs:
	// 3 is "safely unguessable", beyond 10^8 guesses.
	MinPasswordScore = 3
	// zxcvbnPrefix bounds the estimator's work (as upstream zxcvbn does).
	zxcvbnPrefix = 100
)

// checkSigningPassword refuses passwords that are too short (in
// characters), blank, or easy to guess according to zxcvbn: common
// passwords and words, names, keyboard walks, repeats, sequences, dates,
// and the user's own name, username and e-mail address.
func checkSigningPassword(pw string, u *domain.User) error {
	if !utf8.ValidString(pw) {
		return domain.Errorf(domain.KindInvalid, "the signing password is not valid UTF-8 text")
	}
	if len(pw) > MaxSigningPassword {
		return domain.Errorf(domain.KindInvalid, "the signing password is longer than %d bytes", MaxSigningPassword)
	}
	if strings.TrimFunc(pw, unicode.IsSpace) == "" {
		return domain.Errorf(domain.KindInvalid, "the signing password is blank: choose one of at least %d characters", MinSigningPassword)
	}
	if n := utf8.RuneCountInString(pw); n < MinSigningPassword {
		return domain.Errorf(domain.KindInvalid, "choose a signing password of at least %d characters (this one has %d); it protects the key together with the server's master key", MinSigningPassword, n)
	}
	var inputs []string
	if u != nil {
		inputs = append(inputs, u.Username, u.Name, u.Email)
		if local, _, ok := strings.Cut(u.Email, "@"); ok {
			inputs = append(inputs, local)
		}
	}
	inputs = append(inputs, "trel", "signing", "password")
	head := pw
	if utf8.RuneCountInString(head) > zxcvbnPrefix {
		head = string([]rune(head)[:zxcvbnPrefix])
	}
	if r := zxcvbn.PasswordStrength(head, inputs); r.Score < MinPasswordScore {
		return domain.Errorf(domain.KindInvalid, "this signing password is too easy to guess (common words or passwords, names, keyboard patterns, repeats, sequences, dates or your own name score %d of 4; %d needed): use four or more unrelated words, or a password manager", r.Score, MinPasswordScore)
	}
	return nil
}
