package config

import (
	"strings"
	"testing"
)

func TestSigninSettings(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // "" for none
	}{
		{"defaults", map[string]string{}, ""},
		{"proxies", map[string]string{"OPTOUT_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7 ,::1"}, ""},
		{"bad proxy", map[string]string{"OPTOUT_TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"}, "OPTOUT_TRUSTED_PROXIES"},
		{"oidc complete", map[string]string{"OPTOUT_OIDC_ISSUER": "https://login.microsoftonline.com/t/v2.0", "OPTOUT_OIDC_CLIENT_ID": "c",
			"OPTOUT_OIDC_REDIRECT_URL": "https://optout.example/signin/oidc/callback", "OPTOUT_LOCAL_SIGNIN": "off"}, ""},
		{"oidc half set", map[string]string{"OPTOUT_OIDC_ISSUER": "https://login.microsoftonline.com/t/v2.0"}, "together"},
		{"oidc over http", map[string]string{"OPTOUT_OIDC_ISSUER": "http://idp.example/"}, "https://"},
		{"local off without oidc", map[string]string{"OPTOUT_LOCAL_SIGNIN": "off"}, "nobody could sign in"},
		{"local maybe", map[string]string{"OPTOUT_LOCAL_SIGNIN": "maybe"}, "OPTOUT_LOCAL_SIGNIN"},
	}
	for _, tt := range tests {
		c, err := Load(func(k string) string { return tt.env[k] })
		if err == nil {
			err = c.checkWebSignin()
		}
		if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.wantErr)
		}
	}
	c, _ := Load(func(k string) string { return map[string]string{"OPTOUT_TRUSTED_PROXIES": "10.1.2.3/8,192.0.2.7"}[k] })
	if len(c.TrustedProxies) != 2 || c.TrustedProxies[0].String() != "10.0.0.0/8" || c.TrustedProxies[1].String() != "192.0.2.7/32" {
		t.Errorf("TrustedProxies = %v", c.TrustedProxies)
	}
	if c.SessionMax.Hours() != 12 {
		t.Errorf("SessionMax default = %v, want 12h", c.SessionMax)
	}
}
