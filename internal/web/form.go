package web

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"trel/internal/api"
	"trel/internal/domain"
)

// failedForm is a form POST that was refused. The page it came from is
// rendered again in the response itself (no redirect), with what the user
// typed and the message next to the field it is about (see refill).
type failedForm struct {
	ID     string     // the form's id attribute
	Values url.Values // what was typed; password fields are never kept
	Field  string     // the input the message is about; "" for the whole form
	Error  string
	Status int
}

type formKey struct{}

// failedFormOf returns the refused form the request carries, if any.
func failedFormOf(r *http.Request) *failedForm {
	f, _ := r.Context().Value(formKey{}).(*failedForm)
	return f
}

// refill answers a refused form POST with its page, rendered by the page's
// GET handler, showing the typed values and the message next to its field:
// the error's own field (domain.Error.On), or else field ("" puts it at the
// top of the form). The status is the error's.
func (w *Web) refill(rw http.ResponseWriter, r *http.Request, formID, field string, err error, page http.HandlerFunc) {
	w.logServerError(r, err)
	if f := domain.FieldOf(err); f != "" {
		field = f
	}
	f := &failedForm{ID: formID, Values: typedValues(r), Field: field, Error: domain.PublicMessage(err), Status: api.StatusOf(domain.KindOf(err))}
	if domain.KindOf(err) == domain.KindUnauthenticated && actor(r).User == nil {
		w.renderError(rw, r, http.StatusUnauthorized, "Sign-in needed", "Your session has ended: sign in again.")
		return
	}
	get := r.Clone(context.WithValue(r.Context(), formKey{}, f))
	get.Method = http.MethodGet
	page(rw, get)
}

// typedValues is what the user typed into the form, without secrets.
func typedValues(r *http.Request) url.Values {
	out := url.Values{}
	src := r.PostForm
	if r.MultipartForm != nil {
		src = r.MultipartForm.Value
	}
	for k, v := range src {
		if strings.Contains(k, "password") {
			continue
		}
		out[k] = v
	}
	return out
}

// fieldError is the message shown next to one input (or on top of the
// form when Field is "").
type fieldError struct {
	ID  string // the element id, for aria-describedby
	Msg string
}

// Template helpers for forms. Each takes the page's .Form (the refused
// form, or nil) and the form id, so that only the refused form shows
// typed values and errors; the others show their defaults.
var formFuncs = template.FuncMap{
	// fval is the value of an input: what was typed into the refused
	// form, or else def (a string, a number, or a list joined by ", ").
	"fval": func(f *failedForm, form, name string, def any) string {
		if f != nil && f.ID == form {
			return f.Values.Get(name)
		}
		switch d := def.(type) {
		case nil:
			return ""
		case []string:
			return strings.Join(d, ", ")
		}
		return fmt.Sprint(def)
	},
	// fchecked says whether a checkbox or radio button is checked: as
	// typed into the refused form, or else def.
	"fchecked": func(f *failedForm, form, name, value string, def bool) bool {
		if f != nil && f.ID == form {
			return slices.Contains(f.Values[name], value)
		}
		return def
	},
	// ferr is the message of one field (name "" for the whole form), or nil.
	"ferr": func(f *failedForm, form, name string) *fieldError {
		if f == nil || f.ID != form || f.Field != name {
			return nil
		}
		return &fieldError{ID: form + "-" + name + "-error", Msg: f.Error}
	},
	// fattrs marks an input that holds an error: aria-invalid, the id of
	// its message, and the focus, so that the page opens on it.
	"fattrs": func(f *failedForm, form, name string) template.HTMLAttr {
		if f == nil || f.ID != form || f.Field != name {
			return ""
		}
		return template.HTMLAttr(fmt.Sprintf(`aria-invalid="true" aria-describedby="%s" autofocus`, template.HTMLEscapeString(form+"-"+name+"-error")))
	},
	// dict builds the argument of a component: dict "Key" value ...
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, fmt.Errorf("dict needs key and value pairs")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
}
