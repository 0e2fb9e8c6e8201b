package message

import "bytes"

// The kinds of encryption Parse records in Message.Encrypted.
const (
	EncryptedSMIME = "smime" // S/MIME enveloped-data or authEnveloped-data (application/pkcs7-mime)
	EncryptedPGP   = "pgp"   // PGP/MIME (multipart/encrypted)
)

// The CMS content types (RFC 5652, RFC 5083) an application/pkcs7-mime part
// can carry, as its smime-type parameter names them.
const (
	cmsSignedData      = "signed-data"
	cmsEnvelopedData   = "enveloped-data"
	cmsAuthEnveloped   = "authenveloped-data"
	cmsCompressedData  = "compressed-data"
	maxCMSHeaderLength = 64 // bytes of a part cmsContentType looks at
)

// cmsOIDs are the DER encodings (tag, length and value) of the content-type
// object identifiers of the CMS types above.
var cmsOIDs = []struct {
	der  []byte
	kind string
}{
	{[]byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02}, cmsSignedData},                 // 1.2.840.113549.1.7.2
	{[]byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03}, cmsEnvelopedData},              // 1.2.840.113549.1.7.3
	{[]byte{0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x17}, cmsAuthEnveloped},  // 1.2.840.113549.1.9.16.1.23
	{[]byte{0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x09}, cmsCompressedData}, // 1.2.840.113549.1.9.16.1.9
}

// cmsContentType reads the content type of a DER or BER CMS ContentInfo
// (SEQUENCE { contentType OBJECT IDENTIFIER, [0] content }) from its first
// bytes: one of the cms* names, or "" when b does not start like one. It
// reads only the outer SEQUENCE's header and the OID that follows it, so it
// accepts BER's indefinite lengths, which some clients write.
func cmsContentType(b []byte) string {
	if len(b) > maxCMSHeaderLength {
		b = b[:maxCMSHeaderLength]
	}
	if len(b) < 2 || b[0] != 0x30 {
		return ""
	}
	i := 2
	switch l := b[1]; {
	case l == 0x80: // indefinite length (BER)
	case l < 0x80:
	case l <= 0x84:
		i += int(l & 0x7f)
	default:
		return ""
	}
	if i >= len(b) {
		return ""
	}
	for _, o := range cmsOIDs {
		if bytes.HasPrefix(b[i:], o.der) {
			return o.kind
		}
	}
	return ""
}
