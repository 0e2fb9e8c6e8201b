package extract

// minPhotoBytes is the smallest image taken for a photo or scan of the
// form: smaller ones are icons, logos and spacers from signatures and HTML
// layouts (a phone photo or a scan of a page is hundreds of KB).
const minPhotoBytes = 16 << 10

// layoutImage reports an image that belongs to an email's signature or HTML
// layout rather than to what the sender meant to send: named like one
// (Outlook's image001.png, logo.png, ...) or smaller than minPhotoBytes.
func layoutImage(name string, size int) bool {
	return signatureImage.MatchString(name) || size < minPhotoBytes
}

// LikelyPhoto reports whether an attachment may be a photo or scan of the
// paper form: an image by its content (PNG, JPEG, GIF, TIFF, BMP, WebP,
// HEIC, whatever its name says) that is not a signature or layout image.
// Images are not forms in the JSON contract (a message carrying only such a
// file is kind contact, with a note), so the pipeline asks this to send
// the message to staff, who key the form in.
func LikelyPhoto(name string, data []byte) bool {
	return Sniff(name, data) == TypeImage && !layoutImage(name, len(data))
}
