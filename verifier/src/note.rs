//! c2sp.org/signed-note: notes, Ed25519 note keys and their string encodings.
//!
//! A signed note is a text ending in a newline, a blank line, and one or more signature lines:
//!
//! ```text
//! <text, ending in \n>
//! \n
//! — <key name> <base64(4-byte key ID, big-endian || signature)>\n
//! ```
//!
//! Two signature types are supported, both over Ed25519 keys:
//!
//! - `0x01` ([`KeyType::Ed25519`]): a plain Ed25519 signature over the note text (logs).
//! - `0x04` ([`KeyType::Ed25519Cosignature`]): a c2sp.org/tlog-cosignature timestamped signature,
//!   `timestamp (u64 BE) || Ed25519 signature` over `"cosignature/v1\ntime <t>\n" || text`
//!   (witnesses). The timestamp is only checked for range here; [`crate::checkpoint`] gives it
//!   meaning.
//!
//! Verification follows the spec: a key is identified by its (name, key ID) pair; signatures
//! from unknown pairs are ignored even when they share the name or the ID with a known key; a
//! failing signature from a known key rejects the whole note; a note with no verifying signature
//! from a known key is rejected. Only [`Note::verify`] produces a [`VerifiedNote`].
//!
//! Parsing is strict (canonical base64, exact separators) so that `encode(parse(b)) == b` for
//! every accepted input; that exactness is what lets cosigners sign the bytes we show them.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The largest signed note accepted, in bytes, signatures included.
pub const MAX_NOTE_SIZE: usize = 1 << 20;

/// The most signature lines accepted in one note (the spec requires at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// The start of every signature line: U+2014 EM DASH and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// The start of a Go-format private key string.
const PRIVATE_KEY_PREFIX: &str = "PRIVATE+KEY+";

/// The signature types this module knows, by their c2sp signed-note type byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// `0x01`: Ed25519 over the note text.
    Ed25519,
    /// `0x04`: timestamped Ed25519 cosignature (c2sp.org/tlog-cosignature).
    Ed25519Cosignature,
}

/// What is wrong with a note text (or a text offered for signing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextProblem {
    /// Larger than [`MAX_NOTE_SIZE`].
    #[error("{size} bytes is over the limit of {max}")]
    TooLarge { size: usize, max: usize },
    /// Not valid UTF-8.
    #[error("invalid UTF-8 at byte {offset}")]
    NotUtf8 { offset: usize },
    /// An ASCII control character other than `\n` (this includes `\r`).
    #[error("control character 0x{byte:02x} at byte {offset}")]
    ControlCharacter { offset: usize, byte: u8 },
    /// The text (or the signature block) does not end in `\n`.
    #[error("does not end in a newline")]
    MissingFinalNewline,
}

/// What is wrong with one signature line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    /// The line does not start with U+2014 and a space.
    #[error("does not start with an em dash and a space")]
    MissingPrefix,
    /// The key name is empty or holds whitespace or `+`.
    #[error("invalid key name")]
    InvalidName,
    /// The signature is missing or is not canonical, padded standard base64.
    #[error("signature is not standard padded base64")]
    InvalidBase64,
    /// The decoded signature is shorter than a key ID and one byte.
    #[error("signature is shorter than 5 bytes")]
    TooShort,
}

/// Errors from parsing keys and notes and from verifying notes.
///
/// Everything is "bad input" (the bytes or strings given to a parser, or a note that does not
/// verify) except the variants for which [`NoteError::is_caller_misuse`] is true.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    // Bad input: key strings.
    /// A vkey is not `<name>+<id>+<key>`.
    #[error("verifier key is not of the form <name>+<hex id>+<base64 key>")]
    MalformedVerifierKey,
    /// A private key string is not `PRIVATE+KEY+<name>+<id>+<key>`.
    #[error("private key is not of the form PRIVATE+KEY+<name>+<hex id>+<base64 key>")]
    MalformedPrivateKey,
    /// A key name is empty, or holds whitespace, `+` or a control character.
    #[error("invalid key name {name:?}")]
    InvalidKeyName { name: String },
    /// A key ID is not exactly 8 lowercase hex digits.
    #[error("key ID {id:?} is not 8 lowercase hex digits")]
    InvalidKeyId { id: String },
    /// The key material is not canonical, padded standard base64.
    #[error("key material is not standard padded base64")]
    InvalidKeyEncoding,
    /// The key's type byte is not one this module supports.
    #[error("unsupported key type 0x{type_byte:02x}")]
    UnsupportedKeyType { type_byte: u8 },
    /// The key material has the wrong length for its type (type byte included).
    #[error("key material is {len} bytes, expected {want}")]
    WrongKeyLength { len: usize, want: usize },
    /// The public key is not a usable Ed25519 point (not on the curve, or of small order).
    #[error("public key is not a valid Ed25519 key")]
    InvalidPublicKey,
    /// The key ID in the string is not the one computed from the name and key.
    #[error("key ID {claimed:08x} does not match the computed {computed:08x}")]
    KeyIdMismatch { claimed: u32, computed: u32 },

    // Bad input: notes.
    /// The note text breaks the UTF-8, control character, size or final newline rules.
    #[error("invalid note: {0}")]
    InvalidText(TextProblem),
    /// No blank line separates a text from a non-empty signature block.
    #[error("note has no signature block after a blank line")]
    MissingSignatureBlock,
    /// A list of signature lines is empty.
    #[error("no signature lines")]
    NoSignatures,
    /// A signature line is malformed (`line` counts from 1 within the signature block).
    #[error("signature line {line}: {problem}")]
    MalformedSignatureLine { line: usize, problem: LineProblem },
    /// More than [`MAX_SIGNATURES`] signature lines.
    #[error("{count} signature lines is over the limit of {max}")]
    TooManySignatures { count: usize, max: usize },

    // Bad input: verification.
    /// A signature from a known key does not verify: the whole note is rejected.
    #[error("signature from known key {name}+{key_id:08x} does not verify")]
    InvalidSignature { name: String, key_id: u32 },
    /// No known key signed the note.
    #[error("no signature from a known key")]
    NoVerifiedSignature,

    // Caller misuse.
    /// A text offered for signing breaks the note text rules.
    #[error("text to sign is not a valid note text: {0}")]
    InvalidTextToSign(TextProblem),
    /// Signing was asked for with no signers.
    #[error("no signers given")]
    NoSigners,
    /// Signing or adding a signature would go over [`MAX_SIGNATURES`].
    #[error("a note holds at most {max} signatures")]
    SignatureLimitExceeded { max: usize },
    /// Two known keys share a (name, key ID) pair, so signatures cannot be attributed.
    #[error("two known keys share the name {name:?} and key ID {key_id:08x}")]
    DuplicateKnownKey { name: String, key_id: u32 },
}

/// A key that signs notes: a key name and an Ed25519 private key.
///
/// It signs as an Ed25519 (`0x01`) log key, and, for witness use, as an Ed25519 cosignature
/// (`0x04`) key with its own key ID ([`NoteSigner::cosignature_verifier`]). `Debug` shows the
/// name and key ID only, never the secret.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key: SigningKey,
    key_id: u32,
    cosignature_key_id: u32,
}

/// A public key that verifies note signatures, as a vkey: `<name>+<8 hex id>+<base64(type||key)>`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NoteVerifier {
    name: String,
    key_id: u32,
    key_type: KeyType,
    key: VerifyingKey,
}

/// One signature line: the key name, the key ID and the signature bytes after the key ID.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NoteSignature {
    name: String,
    key_id: u32,
    bytes: Vec<u8>,
}

/// A parsed, not yet verified, signed note. Its text should be ignored until [`Note::verify`]
/// succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

/// A note with at least one valid signature from a known key. Only [`Note::verify`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNote {
    note: Note,
    verified: Vec<VerifiedSignature>,
}

/// A signature that verified under a known key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    key: NoteVerifier,
    bytes: Vec<u8>,
}

/// The c2sp key ID: the first 4 bytes, big-endian, of `SHA-256(name || 0x0A || type || key)`.
pub fn key_id(name: &str, type_byte: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', type_byte]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Whether `name` is a valid key name: non-empty, no Unicode whitespace, no `+`, and (stricter
/// than the spec, which only bans ASCII controls in the whole note) no control characters.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c == '+' || c.is_whitespace() || c.is_control())
}

impl KeyType {
    /// The signature type byte: `0x01` or `0x04`.
    pub const fn byte(self) -> u8 {
        match self {
            KeyType::Ed25519 => 0x01,
            KeyType::Ed25519Cosignature => 0x04,
        }
    }

    /// The key type for a signature type byte, if supported.
    pub const fn from_byte(byte: u8) -> Option<KeyType> {
        match byte {
            0x01 => Some(KeyType::Ed25519),
            0x04 => Some(KeyType::Ed25519Cosignature),
            _ => None,
        }
    }
}

impl NoteError {
    /// Whether the error is the caller's mistake (a bug or a misconfiguration) rather than bad
    /// input from outside.
    pub fn is_caller_misuse(&self) -> bool {
        matches!(
            self,
            NoteError::InvalidTextToSign(_)
                | NoteError::NoSigners
                | NoteError::SignatureLimitExceeded { .. }
                | NoteError::DuplicateKnownKey { .. }
        )
    }
}

impl NoteSigner {
    /// A signer named `name` whose Ed25519 key is derived from the 32-byte `seed` (RFC 8032).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<NoteSigner, NoteError> {
        if !is_valid_key_name(name) {
            return Err(NoteError::InvalidKeyName {
                name: name.to_owned(),
            });
        }
        let key = SigningKey::from_bytes(seed);
        let public = key.verifying_key().to_bytes();
        Ok(NoteSigner {
            name: name.to_owned(),
            key_id: key_id(name, KeyType::Ed25519.byte(), &public),
            cosignature_key_id: key_id(name, KeyType::Ed25519Cosignature.byte(), &public),
            key,
        })
    }

    /// Parses Go's private key string `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`,
    /// checking the name, the type byte, the length and that the ID matches the key.
    pub fn from_private_key(private_key: &str) -> Result<NoteSigner, NoteError> {
        let rest = private_key
            .strip_prefix(PRIVATE_KEY_PREFIX)
            .ok_or(NoteError::MalformedPrivateKey)?;
        let (name, id, material) = split_key_string(rest).ok_or(NoteError::MalformedPrivateKey)?;
        check_key_name(name)?;
        let claimed = parse_key_id(id)?;
        let mut raw = STANDARD
            .decode(material)
            .map_err(|_| NoteError::InvalidKeyEncoding)?;
        let checked = check_key_material(&raw, Some(KeyType::Ed25519));
        let seed: Option<[u8; 32]> = raw.get(1..).and_then(|s| s.try_into().ok());
        // Best effort only: without a zeroize dependency the optimiser may keep copies.
        raw.fill(0);
        checked?;
        let mut seed = seed.ok_or(NoteError::MalformedPrivateKey)?;
        let signer = NoteSigner::from_seed(name, &seed);
        seed.fill(0);
        let signer = signer?;
        if signer.key_id != claimed {
            return Err(NoteError::KeyIdMismatch {
                claimed,
                computed: signer.key_id,
            });
        }
        Ok(signer)
    }

    /// The private key in Go's format, `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`.
    ///
    /// This is the secret: deliberately not `Display`, so that it never lands in a log line by
    /// accident.
    pub fn to_private_key_string(&self) -> String {
        let mut material = Vec::with_capacity(33);
        material.push(KeyType::Ed25519.byte());
        material.extend_from_slice(self.key.as_bytes());
        let s = format!(
            "{PRIVATE_KEY_PREFIX}{}+{:08x}+{}",
            self.name,
            self.key_id,
            STANDARD.encode(&material)
        );
        material.fill(0);
        s
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID of the Ed25519 (`0x01`) key.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The key ID of the same key used for cosignatures (`0x04`).
    pub fn cosignature_key_id(&self) -> u32 {
        self.cosignature_key_id
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The Ed25519 signing key, for the other signature formats of this crate (DSSE).
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The verifier for this signer's Ed25519 (`0x01`) signatures.
    pub fn verifier(&self) -> NoteVerifier {
        self.verifier_of_type(KeyType::Ed25519)
    }

    /// The verifier for this signer's timestamped cosignatures (`0x04`), as a witness.
    pub fn cosignature_verifier(&self) -> NoteVerifier {
        self.verifier_of_type(KeyType::Ed25519Cosignature)
    }

    /// An Ed25519 (`0x01`) signature line over `text`. The text is not checked here.
    pub(crate) fn sign_text(&self, text: &str) -> NoteSignature {
        NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            bytes: self.key.sign(text.as_bytes()).to_bytes().to_vec(),
        }
    }

    /// A cosignature (`0x04`) line over `text` at `timestamp`. The caller checks that the text
    /// is a checkpoint and that the timestamp is at most `2^63 - 1`.
    pub(crate) fn cosign_text(&self, text: &str, timestamp: u64) -> NoteSignature {
        let sig = self.key.sign(&cosignature_message(timestamp, text));
        let mut bytes = Vec::with_capacity(72);
        bytes.extend_from_slice(&timestamp.to_be_bytes());
        bytes.extend_from_slice(&sig.to_bytes());
        NoteSignature {
            name: self.name.clone(),
            key_id: self.cosignature_key_id,
            bytes,
        }
    }

    fn verifier_of_type(&self, key_type: KeyType) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: match key_type {
                KeyType::Ed25519 => self.key_id,
                KeyType::Ed25519Cosignature => self.cosignature_key_id,
            },
            key_type,
            key: self.key.verifying_key(),
        }
    }
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.key_id))
            .finish_non_exhaustive()
    }
}

impl NoteVerifier {
    /// Parses a vkey `<name>+<8 lowercase hex id>+<base64(type byte || 32-byte key)>`, checking
    /// the name, the ID format, the type, the length, the key and that the ID matches.
    pub fn parse(vkey: &str) -> Result<NoteVerifier, NoteError> {
        Self::parse_key(vkey, None)
    }

    /// Parses a verifier key string that must be of `key_type` (a signer's key in an entry is
    /// Ed25519, never a cosignature key): another type is refused before the key ID is
    /// checked.
    pub fn parse_of_type(vkey: &str, key_type: KeyType) -> Result<NoteVerifier, NoteError> {
        Self::parse_key(vkey, Some(key_type))
    }

    fn parse_key(vkey: &str, required: Option<KeyType>) -> Result<NoteVerifier, NoteError> {
        let (name, id, material) = split_key_string(vkey).ok_or(NoteError::MalformedVerifierKey)?;
        check_key_name(name)?;
        let claimed = parse_key_id(id)?;
        let raw = STANDARD
            .decode(material)
            .map_err(|_| NoteError::InvalidKeyEncoding)?;
        let key_type = check_key_material(&raw, required)?;
        let public: [u8; 32] = raw[1..]
            .try_into()
            .map_err(|_| NoteError::InvalidPublicKey)?;
        let verifier = NoteVerifier::new(name, key_type, &public)?;
        if verifier.key_id != claimed {
            return Err(NoteError::KeyIdMismatch {
                claimed,
                computed: verifier.key_id,
            });
        }
        Ok(verifier)
    }

    /// A verifier from its parts; the key ID is computed.
    pub fn new(
        name: &str,
        key_type: KeyType,
        public_key: &[u8; 32],
    ) -> Result<NoteVerifier, NoteError> {
        check_key_name(name)?;
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| NoteError::InvalidPublicKey)?;
        // A small-order key lets anyone forge signatures; no honest key is one.
        if key.is_weak() {
            return Err(NoteError::InvalidPublicKey);
        }
        Ok(NoteVerifier {
            name: name.to_owned(),
            key_id: key_id(name, key_type.byte(), public_key),
            key_type,
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The decompressed Ed25519 key, ready to verify (decompressing costs as much as a
    /// quarter of a verification, so callers that verify often should use this).
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Whether `signature` (the bytes after the key ID) is valid for `text` under this key.
    ///
    /// For cosignatures the first 8 bytes are the timestamp, which must be at most `2^63 - 1`.
    pub(crate) fn verify(&self, text: &str, signature: &[u8]) -> bool {
        match self.key_type {
            KeyType::Ed25519 => match <&[u8; 64]>::try_from(signature) {
                Ok(sig) => crate::ed25519::verify_strict(
                    &self.key,
                    text.as_bytes(),
                    &Signature::from_bytes(sig),
                ),
                Err(_) => false,
            },
            KeyType::Ed25519Cosignature => {
                let Some((timestamp, sig)) = split_cosignature(signature) else {
                    return false;
                };
                crate::ed25519::verify_strict(
                    &self.key,
                    &cosignature_message(timestamp, text),
                    &Signature::from_bytes(&sig),
                )
            }
        }
    }

    fn matches(&self, signature: &NoteSignature) -> bool {
        self.name == signature.name && self.key_id == signature.key_id
    }
}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = Vec::with_capacity(33);
        material.push(self.key_type.byte());
        material.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            STANDARD.encode(material)
        )
    }
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteVerifier({self})")
    }
}

impl FromStr for NoteVerifier {
    type Err = NoteError;

    fn from_str(s: &str) -> Result<NoteVerifier, NoteError> {
        NoteVerifier::parse(s)
    }
}

impl NoteSignature {
    /// Parses a block of signature lines, each ending in `\n` (for example a witness's answer),
    /// with the same rules and limits as the signature block of a note.
    pub fn parse_lines(bytes: &[u8]) -> Result<Vec<NoteSignature>, NoteError> {
        let s = check_text(bytes).map_err(NoteError::InvalidText)?;
        if s.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        parse_signature_block(s)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature bytes after the key ID.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The signature line, `— <name> <base64(key ID || bytes)>\n`.
    pub fn encode_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.bytes.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.bytes);
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, STANDARD.encode(raw))
    }

    fn encoded_len(&self) -> usize {
        SIGNATURE_PREFIX.len() + self.name.len() + 1 + (4 + self.bytes.len()).div_ceil(3) * 4 + 1
    }
}

impl Note {
    /// Parses a signed note. Checks the format only; see [`Note::verify`].
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        let s = check_text(bytes).map_err(NoteError::InvalidText)?;
        // The text keeps its final newline; the blank line after it belongs to neither part.
        let split = s.rfind("\n\n").ok_or(NoteError::MissingSignatureBlock)?;
        let (text, block) = (&s[..split + 1], &s[split + 2..]);
        if block.is_empty() {
            return Err(NoteError::MissingSignatureBlock);
        }
        let signatures = parse_signature_block(block)?;
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The note's bytes: the text, a blank line and the signature lines.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(self.text.as_bytes());
        out.push(b'\n');
        for s in &self.signatures {
            out.extend_from_slice(s.encode_line().as_bytes());
        }
        out
    }

    /// Signs `text` with each signer (Ed25519, `0x01`), in order.
    ///
    /// The text must end in `\n`, hold no control characters other than `\n`, and fit in a
    /// note of at most [`MAX_NOTE_SIZE`] bytes.
    pub fn sign(text: &str, signers: &[&NoteSigner]) -> Result<Note, NoteError> {
        check_text(text.as_bytes()).map_err(NoteError::InvalidTextToSign)?;
        if !text.ends_with('\n') {
            return Err(NoteError::InvalidTextToSign(
                TextProblem::MissingFinalNewline,
            ));
        }
        if signers.is_empty() {
            return Err(NoteError::NoSigners);
        }
        if signers.len() > MAX_SIGNATURES {
            return Err(NoteError::SignatureLimitExceeded {
                max: MAX_SIGNATURES,
            });
        }
        let note = Note {
            text: text.to_owned(),
            signatures: signers.iter().map(|s| s.sign_text(text)).collect(),
        };
        let size = note.encoded_len();
        if size > MAX_NOTE_SIZE {
            return Err(NoteError::InvalidTextToSign(TextProblem::TooLarge {
                size,
                max: MAX_NOTE_SIZE,
            }));
        }
        Ok(note)
    }

    /// The note text, final newline included. Untrusted until verified.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Every signature line, known or not, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Appends a signature line, as long as the note stays within [`MAX_SIGNATURES`] lines and
    /// [`MAX_NOTE_SIZE`] bytes. The signature is not verified.
    pub fn add_signature(&mut self, signature: NoteSignature) -> Result<(), NoteError> {
        if self.signatures.len() >= MAX_SIGNATURES
            || self.encoded_len() + signature.encoded_len() > MAX_NOTE_SIZE
        {
            return Err(NoteError::SignatureLimitExceeded {
                max: MAX_SIGNATURES,
            });
        }
        self.signatures.push(signature);
        Ok(())
    }

    /// Verifies the note against the `known` keys.
    ///
    /// Signatures whose (name, key ID) pair is not known are ignored. Every signature from a
    /// known key must verify, or the note is rejected; at least one must be present.
    pub fn verify(&self, known: &[NoteVerifier]) -> Result<VerifiedNote, NoteError> {
        for (i, k) in known.iter().enumerate() {
            if known[..i]
                .iter()
                .any(|o| o.name == k.name && o.key_id == k.key_id)
            {
                return Err(NoteError::DuplicateKnownKey {
                    name: k.name.clone(),
                    key_id: k.key_id,
                });
            }
        }
        let mut verified: Vec<VerifiedSignature> = Vec::new();
        for sig in &self.signatures {
            let Some(key) = known.iter().find(|k| k.matches(sig)) else {
                continue;
            };
            if !key.verify(&self.text, &sig.bytes) {
                return Err(NoteError::InvalidSignature {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            }
            if !verified.iter().any(|v| v.key == *key) {
                verified.push(VerifiedSignature {
                    key: key.clone(),
                    bytes: sig.bytes.clone(),
                });
            }
        }
        if verified.is_empty() {
            return Err(NoteError::NoVerifiedSignature);
        }
        Ok(VerifiedNote {
            note: self.clone(),
            verified,
        })
    }

    fn encoded_len(&self) -> usize {
        self.text.len()
            + 1
            + self
                .signatures
                .iter()
                .map(NoteSignature::encoded_len)
                .sum::<usize>()
    }
}

impl VerifiedNote {
    /// The verified text.
    pub fn text(&self) -> &str {
        &self.note.text
    }

    /// The whole note, including signatures from unknown keys (which prove nothing).
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// The known keys that signed, each once, in the order of their first signature line.
    pub fn verified(&self) -> &[VerifiedSignature] {
        &self.verified
    }

    /// Whether `key` is among the keys that signed.
    pub fn is_signed_by(&self, key: &NoteVerifier) -> bool {
        self.verified.iter().any(|v| v.key == *key)
    }
}

impl VerifiedSignature {
    /// The key that made the signature.
    pub fn key(&self) -> &NoteVerifier {
        &self.key
    }

    /// The raw signature bytes after the key ID (for cosignatures: timestamp, then signature).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The timestamp of a cosignature (`0x04`); `None` for other key types.
    pub fn cosignature_timestamp(&self) -> Option<u64> {
        match self.key.key_type {
            KeyType::Ed25519Cosignature => split_cosignature(&self.bytes).map(|(t, _)| t),
            KeyType::Ed25519 => None,
        }
    }
}

/// The message an Ed25519 cosignature signs: `"cosignature/v1\ntime <t>\n" || text`.
pub(crate) fn cosignature_message(timestamp: u64, text: &str) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{text}").into_bytes()
}

/// Splits cosignature bytes into a timestamp (at most `2^63 - 1`) and a 64-byte signature.
pub(crate) fn split_cosignature(bytes: &[u8]) -> Option<(u64, [u8; 64])> {
    let (ts, sig) = bytes.split_first_chunk::<8>()?;
    let timestamp = u64::from_be_bytes(*ts);
    if timestamp > i64::MAX as u64 {
        return None;
    }
    Some((timestamp, sig.try_into().ok()?))
}

/// Checks the rules for every note: size, no control characters but `\n`, UTF-8.
pub(crate) fn check_text(bytes: &[u8]) -> Result<&str, TextProblem> {
    if bytes.len() > MAX_NOTE_SIZE {
        return Err(TextProblem::TooLarge {
            size: bytes.len(),
            max: MAX_NOTE_SIZE,
        });
    }
    // Bytes below 0x20 never occur inside a multi-byte UTF-8 sequence, so a byte scan suffices.
    if let Some(offset) = bytes.iter().position(|&b| b < 0x20 && b != b'\n') {
        return Err(TextProblem::ControlCharacter {
            offset,
            byte: bytes[offset],
        });
    }
    std::str::from_utf8(bytes).map_err(|e| TextProblem::NotUtf8 {
        offset: e.valid_up_to(),
    })
}

/// Parses a non-empty block of signature lines, each ending in `\n`.
fn parse_signature_block(block: &str) -> Result<Vec<NoteSignature>, NoteError> {
    let body = block
        .strip_suffix('\n')
        .ok_or(NoteError::InvalidText(TextProblem::MissingFinalNewline))?;
    let count = body.split('\n').count();
    if count > MAX_SIGNATURES {
        return Err(NoteError::TooManySignatures {
            count,
            max: MAX_SIGNATURES,
        });
    }
    body.split('\n')
        .enumerate()
        .map(|(i, line)| {
            parse_signature_line(line).map_err(|problem| NoteError::MalformedSignatureLine {
                line: i + 1,
                problem,
            })
        })
        .collect()
}

/// Parses `— <name> <base64>` (without the newline).
fn parse_signature_line(line: &str) -> Result<NoteSignature, LineProblem> {
    let rest = line
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or(LineProblem::MissingPrefix)?;
    let (name, b64) = rest.split_once(' ').ok_or(LineProblem::InvalidBase64)?;
    // The spec's name rule. Names breaking our stricter key-name rule can still be parsed
    // (and are then ignored as unknown), as other implementations would.
    if name.is_empty() || name.chars().any(|c| c == '+' || c.is_whitespace()) {
        return Err(LineProblem::InvalidName);
    }
    if b64.is_empty() {
        return Err(LineProblem::InvalidBase64);
    }
    let raw = STANDARD
        .decode(b64)
        .map_err(|_| LineProblem::InvalidBase64)?;
    let Some((id, bytes)) = raw.split_first_chunk::<4>() else {
        return Err(LineProblem::TooShort);
    };
    if bytes.is_empty() {
        return Err(LineProblem::TooShort);
    }
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id: u32::from_be_bytes(*id),
        bytes: bytes.to_vec(),
    })
}

/// Splits `<name>+<id>+<material>`; the material (base64) may itself contain `+`.
fn split_key_string(s: &str) -> Option<(&str, &str, &str)> {
    let mut parts = s.splitn(3, '+');
    Some((parts.next()?, parts.next()?, parts.next()?))
}

fn check_key_name(name: &str) -> Result<(), NoteError> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(NoteError::InvalidKeyName {
            name: name.to_owned(),
        })
    }
}

/// Exactly 8 lowercase hex digits, as Go writes them (`%08x`).
fn parse_key_id(id: &str) -> Result<u32, NoteError> {
    if id.len() != 8 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(NoteError::InvalidKeyId { id: id.to_owned() });
    }
    u32::from_str_radix(id, 16).map_err(|_| NoteError::InvalidKeyId { id: id.to_owned() })
}

/// Checks `type byte || 32-byte key`, optionally of one required type, and returns the type.
fn check_key_material(raw: &[u8], required: Option<KeyType>) -> Result<KeyType, NoteError> {
    let Some(&type_byte) = raw.first() else {
        return Err(NoteError::WrongKeyLength { len: 0, want: 33 });
    };
    let key_type = KeyType::from_byte(type_byte)
        .filter(|t| required.is_none_or(|r| r == *t))
        .ok_or(NoteError::UnsupportedKeyType { type_byte })?;
    if raw.len() != 33 {
        return Err(NoteError::WrongKeyLength {
            len: raw.len(),
            want: 33,
        });
    }
    Ok(key_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOO_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const FOO_TEXT: &str = "This is an example message.\n";
    const FOO_SIG: &str = "\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

    const PN_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PN_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PN_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const PN_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    fn signer(name: &str, n: u8) -> NoteSigner {
        NoteSigner::from_seed(name, &[n; 32]).unwrap()
    }

    fn note_bytes(text: &str, sig_lines: &[&str]) -> Vec<u8> {
        let mut v = format!("{text}\n").into_bytes();
        for l in sig_lines {
            v.extend_from_slice(l.as_bytes());
        }
        v
    }

    /// A syntactically valid signature line from a key nobody knows.
    fn stranger_line(name: &str) -> String {
        NoteSignature {
            name: name.into(),
            key_id: 0xdeadbeef,
            bytes: vec![7; 64],
        }
        .encode_line()
    }

    // --- spec vectors -------------------------------------------------------------------------

    #[test]
    fn spec_vector_example_com_foo() {
        let v = NoteVerifier::parse(FOO_VKEY).unwrap();
        assert_eq!(v.name(), "example.com/foo");
        assert_eq!(v.key_id(), 0x530d903a);
        assert_eq!(v.key_type(), KeyType::Ed25519);
        assert_eq!(v.to_string(), FOO_VKEY);
        let bytes = note_bytes(FOO_TEXT, &[FOO_SIG]);
        let note = Note::parse(&bytes).unwrap();
        assert_eq!(note.text(), FOO_TEXT);
        assert_eq!(note.encode(), bytes);
        let verified = note.verify(std::slice::from_ref(&v)).unwrap();
        assert_eq!(verified.text(), FOO_TEXT);
        assert!(verified.is_signed_by(&v));
        assert_eq!(verified.verified().len(), 1);
    }

    #[test]
    fn spec_vector_peter_neumann() {
        let v = NoteVerifier::parse(PN_VKEY).unwrap();
        assert_eq!(v.to_string(), PN_VKEY);
        let bytes = note_bytes(PN_TEXT, &[PN_SIG]);
        let verified = Note::parse(&bytes).unwrap().verify(&[v]).unwrap();
        assert_eq!(verified.text(), PN_TEXT);
    }

    #[test]
    fn go_private_key_round_trips_and_reproduces_signature() {
        let s = NoteSigner::from_private_key(PN_SKEY).unwrap();
        assert_eq!(s.name(), "PeterNeumann");
        assert_eq!(s.key_id(), 0xc74f20a3);
        assert_eq!(s.verifier().to_string(), PN_VKEY);
        assert_eq!(s.to_private_key_string(), PN_SKEY);
        // Ed25519 is deterministic: the same key and text give the spec's exact bytes.
        let note = Note::sign(PN_TEXT, &[&s]).unwrap();
        assert_eq!(note.encode(), note_bytes(PN_TEXT, &[PN_SIG]));
    }

    #[test]
    fn key_id_is_sha256_prefix() {
        let v = NoteVerifier::parse(FOO_VKEY).unwrap();
        let mut msg = b"example.com/foo\n\x01".to_vec();
        msg.extend_from_slice(&v.public_key());
        let d = Sha256::digest(&msg);
        assert_eq!(
            key_id("example.com/foo", 1, &v.public_key()).to_be_bytes(),
            d[..4]
        );
    }

    // --- keys ---------------------------------------------------------------------------------

    #[test]
    fn signer_round_trips_and_hides_its_secret() {
        let s = signer("example.com/log", 1);
        let again = NoteSigner::from_private_key(&s.to_private_key_string()).unwrap();
        assert_eq!(again.public_key(), s.public_key());
        assert_eq!(again.key_id(), s.key_id());
        let b64_secret = STANDARD.encode([1u8; 32]);
        let debug = format!("{s:?}");
        assert!(debug.contains("example.com/log"), "{debug}");
        assert!(
            !debug.contains(&b64_secret[..16]) && !debug.contains("[1, 1"),
            "{debug}"
        );
        assert!(!format!("{again:?}").contains("PRIVATE"));
    }

    #[test]
    fn cosignature_verifier_has_its_own_key_id() {
        let s = signer("witness.example/w1", 2);
        let c = s.cosignature_verifier();
        assert_eq!(c.key_type(), KeyType::Ed25519Cosignature);
        assert_eq!(c.key_id(), key_id(s.name(), 0x04, &s.public_key()));
        assert_eq!(c.key_id(), s.cosignature_key_id());
        assert_ne!(c.key_id(), s.key_id());
        let vkey = c.to_string();
        // The key material starts with 0x04, which base64 writes as a leading 'B'.
        assert!(vkey.split('+').nth(2).unwrap().starts_with('B'), "{vkey}");
        assert_eq!(NoteVerifier::parse(&vkey).unwrap(), c);
        assert_eq!(
            NoteVerifier::parse(&s.verifier().to_string()).unwrap(),
            s.verifier()
        );
    }

    #[test]
    fn malformed_verifier_keys_are_rejected() {
        let s = signer("example.com/k", 3);
        let pk = s.public_key();
        let good_material = |t: u8| {
            let mut m = vec![t];
            m.extend_from_slice(&pk);
            STANDARD.encode(m)
        };
        let id = format!("{:08x}", s.key_id());
        let m = good_material(1);
        let cases: Vec<(String, NoteError)> = vec![
            (String::new(), NoteError::MalformedVerifierKey),
            ("example.com/k".into(), NoteError::MalformedVerifierKey),
            (
                format!("example.com/k+{id}"),
                NoteError::MalformedVerifierKey,
            ),
            (
                format!("+{id}+{m}"),
                NoteError::InvalidKeyName {
                    name: String::new(),
                },
            ),
            (
                format!("exa mple+{id}+{m}"),
                NoteError::InvalidKeyName {
                    name: "exa mple".into(),
                },
            ),
            (
                format!("exa\u{a0}mple+{id}+{m}"),
                NoteError::InvalidKeyName {
                    name: "exa\u{a0}mple".into(),
                },
            ),
            (
                format!("ex\u{7f}+{id}+{m}"),
                NoteError::InvalidKeyName {
                    name: "ex\u{7f}".into(),
                },
            ),
            (
                format!("example.com/k+{}+{m}", id.to_uppercase()),
                NoteError::InvalidKeyId {
                    id: id.to_uppercase(),
                },
            ),
            (
                format!("example.com/k+{}+{m}", &id[..7]),
                NoteError::InvalidKeyId { id: id[..7].into() },
            ),
            (
                format!("example.com/k+0{id}+{m}"),
                NoteError::InvalidKeyId {
                    id: format!("0{id}"),
                },
            ),
            (
                format!("example.com/k+-1234567+{m}"),
                NoteError::InvalidKeyId {
                    id: "-1234567".into(),
                },
            ),
            (
                format!("example.com/k+{id}+"),
                NoteError::WrongKeyLength { len: 0, want: 33 },
            ),
            (
                format!("example.com/k+{id}+{}", &m[..m.len() - 1]),
                NoteError::InvalidKeyEncoding,
            ),
            (
                format!("example.com/k+{id}+{m} "),
                NoteError::InvalidKeyEncoding,
            ),
            (
                format!("example.com/k+{id}+{m}\n"),
                NoteError::InvalidKeyEncoding,
            ),
            (
                format!("example.com/k+{id}+{m}="),
                NoteError::InvalidKeyEncoding,
            ),
            (
                format!("example.com/k+{id}+{m}+"),
                NoteError::InvalidKeyEncoding,
            ),
            (
                format!("example.com/k+{id}+{}", good_material(2)),
                NoteError::UnsupportedKeyType { type_byte: 2 },
            ),
            (
                format!("example.com/k+{id}+{}", STANDARD.encode([1u8; 32])),
                NoteError::WrongKeyLength { len: 32, want: 33 },
            ),
            (
                format!("example.com/k+{id}+{}", STANDARD.encode([1u8; 34])),
                NoteError::WrongKeyLength { len: 34, want: 33 },
            ),
            (
                format!("example.com/k+00000000+{m}"),
                NoteError::KeyIdMismatch {
                    claimed: 0,
                    computed: s.key_id(),
                },
            ),
            (
                // A valid key under another name: the ID no longer matches.
                format!("example.com/j+{id}+{m}"),
                NoteError::KeyIdMismatch {
                    claimed: s.key_id(),
                    computed: key_id("example.com/j", 1, &pk),
                },
            ),
            (
                // The right key with the 0x01 ID but a 0x04 type byte.
                format!("example.com/k+{id}+{}", good_material(4)),
                NoteError::KeyIdMismatch {
                    claimed: s.key_id(),
                    computed: s.cosignature_key_id(),
                },
            ),
        ];
        for (vkey, want) in cases {
            assert_eq!(NoteVerifier::parse(&vkey), Err(want), "{vkey:?}");
        }
        // A key of small order (the identity point) and a non-point.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            NoteVerifier::new("example.com/k", KeyType::Ed25519, &identity),
            Err(NoteError::InvalidPublicKey)
        );
        let mut raw = vec![1u8];
        raw.extend_from_slice(&identity);
        let weak = format!(
            "example.com/k+{:08x}+{}",
            key_id("example.com/k", 1, &identity),
            STANDARD.encode(&raw)
        );
        assert_eq!(NoteVerifier::parse(&weak), Err(NoteError::InvalidPublicKey));
        // About half of all y coordinates have no point on the curve; take the first.
        let not_a_point = (2u8..=255)
            .map(|y| {
                let mut k = [0u8; 32];
                k[0] = y;
                k
            })
            .find(|k| VerifyingKey::from_bytes(k).is_err())
            .unwrap();
        assert_eq!(
            NoteVerifier::new("example.com/k", KeyType::Ed25519, &not_a_point),
            Err(NoteError::InvalidPublicKey)
        );
    }

    #[test]
    fn malformed_private_keys_are_rejected() {
        let s = signer("example.com/k", 4);
        let good = s.to_private_key_string();
        let material = good.rsplit_once('+').unwrap().1.to_owned();
        let id = format!("{:08x}", s.key_id());
        let with = |b: &[u8]| STANDARD.encode(b);
        let mut cosig_type = vec![4u8];
        cosig_type.extend_from_slice(&[4u8; 32]);
        let cases: Vec<(String, NoteError)> = vec![
            (String::new(), NoteError::MalformedPrivateKey),
            (
                good.replacen("PRIVATE", "private", 1),
                NoteError::MalformedPrivateKey,
            ),
            (
                good.replacen("+KEY+", "+KEYS+", 1),
                NoteError::MalformedPrivateKey,
            ),
            (
                good["PRIVATE+KEY+".len()..].to_owned(),
                NoteError::MalformedPrivateKey,
            ),
            (
                format!("PRIVATE+KEY+example.com/k+{id}"),
                NoteError::MalformedPrivateKey,
            ),
            (
                format!("PRIVATE+KEY+a b+{id}+{material}"),
                NoteError::InvalidKeyName { name: "a b".into() },
            ),
            (
                format!("PRIVATE+KEY+example.com/k+{}+{material}", id.to_uppercase()),
                NoteError::InvalidKeyId {
                    id: id.to_uppercase(),
                },
            ),
            (
                format!("PRIVATE+KEY+example.com/k+{id}+!!!!"),
                NoteError::InvalidKeyEncoding,
            ),
            (
                format!("PRIVATE+KEY+example.com/k+{id}+{}", with(&cosig_type)),
                NoteError::UnsupportedKeyType { type_byte: 4 },
            ),
            (
                format!("PRIVATE+KEY+example.com/k+{id}+{}", with(&[1u8; 32])),
                NoteError::WrongKeyLength { len: 32, want: 33 },
            ),
            (
                format!("PRIVATE+KEY+example.com/k+{id}+{}", with(&[])),
                NoteError::WrongKeyLength { len: 0, want: 33 },
            ),
            (
                format!("PRIVATE+KEY+example.com/k+12345678+{material}"),
                NoteError::KeyIdMismatch {
                    claimed: 0x12345678,
                    computed: s.key_id(),
                },
            ),
        ];
        for (skey, want) in cases {
            let got = NoteSigner::from_private_key(&skey).map(|s| s.name().to_owned());
            assert_eq!(got, Err(want.clone()), "{skey:?}");
            // Errors never carry the key material.
            assert!(!want.to_string().contains(&material[..10]));
        }
        assert!(NoteSigner::from_seed("bad name", &[0; 32]).is_err());
        assert!(NoteSigner::from_seed("", &[0; 32]).is_err());
        assert!(NoteSigner::from_seed("a+b", &[0; 32]).is_err());
    }

    // --- notes: format ------------------------------------------------------------------------

    #[test]
    fn sign_encode_parse_round_trip() {
        let (a, b) = (signer("a.example", 5), signer("b.example", 6));
        let text = "line one\n\nline three after an empty line\n";
        let note = Note::sign(text, &[&a, &b]).unwrap();
        let bytes = note.encode();
        let parsed = Note::parse(&bytes).unwrap();
        assert_eq!(parsed, note);
        assert_eq!(parsed.encode(), bytes);
        assert_eq!(parsed.text(), text);
        let v = parsed.verify(&[a.verifier(), b.verifier()]).unwrap();
        assert_eq!(v.verified().len(), 2);
        assert_eq!(v.verified()[0].key(), &a.verifier());
        assert_eq!(v.verified()[0].cosignature_timestamp(), None);
    }

    #[test]
    fn malformed_notes_are_rejected() {
        let foo = note_bytes(FOO_TEXT, &[FOO_SIG]);
        let sig_line = FOO_SIG.trim_end_matches('\n');
        let b64 = sig_line.rsplit_once(' ').unwrap().1;
        let line_err = |line, problem| NoteError::MalformedSignatureLine { line, problem };
        let cases: Vec<(Vec<u8>, NoteError)> = vec![
            (b"".to_vec(), NoteError::MissingSignatureBlock),
            (
                FOO_TEXT.as_bytes().to_vec(),
                NoteError::MissingSignatureBlock,
            ),
            // No blank line between text and signature.
            (
                format!("{FOO_TEXT}{FOO_SIG}").into_bytes(),
                NoteError::MissingSignatureBlock,
            ),
            // Blank line but no signatures.
            (
                format!("{FOO_TEXT}\n").into_bytes(),
                NoteError::MissingSignatureBlock,
            ),
            // A trailing blank line after the signatures makes the block empty.
            (
                [foo.as_slice(), b"\n"].concat(),
                NoteError::MissingSignatureBlock,
            ),
            // Missing final newline.
            (
                foo[..foo.len() - 1].to_vec(),
                NoteError::InvalidText(TextProblem::MissingFinalNewline),
            ),
            // CR anywhere.
            (
                note_bytes("This is an example message.\r\n", &[FOO_SIG]),
                NoteError::InvalidText(TextProblem::ControlCharacter {
                    offset: 27,
                    byte: b'\r',
                }),
            ),
            (
                format!("{FOO_TEXT}\n{sig_line}\r\n").into_bytes(),
                NoteError::InvalidText(TextProblem::ControlCharacter {
                    offset: FOO_TEXT.len() + 1 + sig_line.len(),
                    byte: b'\r',
                }),
            ),
            (
                note_bytes("tab\there\n", &[FOO_SIG]),
                NoteError::InvalidText(TextProblem::ControlCharacter {
                    offset: 3,
                    byte: b'\t',
                }),
            ),
            (
                note_bytes("nul\0\n", &[FOO_SIG]),
                NoteError::InvalidText(TextProblem::ControlCharacter { offset: 3, byte: 0 }),
            ),
            (
                [b"caf\xc3(\n\n".as_slice(), FOO_SIG.as_bytes()].concat(),
                NoteError::InvalidText(TextProblem::NotUtf8 { offset: 3 }),
            ),
            // Hyphen, en dash, or no space instead of "em dash, space".
            (
                note_bytes(FOO_TEXT, &[&FOO_SIG.replacen('\u{2014}', "-", 1)]),
                line_err(1, LineProblem::MissingPrefix),
            ),
            (
                note_bytes(FOO_TEXT, &[&FOO_SIG.replacen('\u{2014}', "\u{2013}", 1)]),
                line_err(1, LineProblem::MissingPrefix),
            ),
            (
                note_bytes(FOO_TEXT, &[&FOO_SIG.replacen("\u{2014} ", "\u{2014}", 1)]),
                line_err(1, LineProblem::MissingPrefix),
            ),
            (
                note_bytes(FOO_TEXT, &[&format!(" {FOO_SIG}")]),
                line_err(1, LineProblem::MissingPrefix),
            ),
            // Names: empty, non-breaking space, plus.
            (
                note_bytes(FOO_TEXT, &[&format!("\u{2014}  {b64}\n")]),
                line_err(1, LineProblem::InvalidName),
            ),
            (
                note_bytes(FOO_TEXT, &[&format!("\u{2014} a\u{a0}b {b64}\n")]),
                line_err(1, LineProblem::InvalidName),
            ),
            (
                note_bytes(FOO_TEXT, &[&format!("\u{2014} a+b {b64}\n")]),
                line_err(1, LineProblem::InvalidName),
            ),
            // Signature: missing, empty, unpadded, non-canonical, URL-safe, extra field, too short.
            (
                note_bytes(FOO_TEXT, &["\u{2014} example.com/foo\n"]),
                line_err(1, LineProblem::InvalidBase64),
            ),
            (
                note_bytes(FOO_TEXT, &["\u{2014} example.com/foo \n"]),
                line_err(1, LineProblem::InvalidBase64),
            ),
            (
                note_bytes(FOO_TEXT, &[&FOO_SIG.replacen('=', "", 1)]),
                line_err(1, LineProblem::InvalidBase64),
            ),
            (
                note_bytes(FOO_TEXT, &[&FOO_SIG.replacen("QM=", "QN=", 1)]),
                line_err(1, LineProblem::InvalidBase64),
            ),
            (
                note_bytes(PN_TEXT, &[&PN_SIG.replacen('/', "_", 1)]),
                line_err(1, LineProblem::InvalidBase64),
            ),
            (
                note_bytes(FOO_TEXT, &[&format!("{sig_line} extra\n")]),
                line_err(1, LineProblem::InvalidBase64),
            ),
            (
                note_bytes(FOO_TEXT, &[&format!("{sig_line}  \n")]),
                line_err(1, LineProblem::InvalidBase64),
            ),
            (
                note_bytes(FOO_TEXT, &["\u{2014} example.com/foo AAAAAA==\n"]),
                line_err(1, LineProblem::TooShort),
            ),
            // A good line then a bad one: the line number says which.
            (
                note_bytes(FOO_TEXT, &[FOO_SIG, "not a signature\n"]),
                line_err(2, LineProblem::MissingPrefix),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                Note::parse(&bytes),
                Err(want),
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
        // Five bytes (a key ID and one signature byte) is the smallest accepted line.
        let five = note_bytes(FOO_TEXT, &["\u{2014} x AAAAAAE=\n"]);
        assert_eq!(Note::parse(&five).unwrap().signatures()[0].bytes(), [1]);
    }

    #[test]
    fn signature_looking_lines_in_the_text_stay_text() {
        // Lines before the last blank line are text, however they look.
        let fake = stranger_line("example.com/foo");
        let text = format!("{FOO_TEXT}\n{fake}");
        let bytes = note_bytes(&text, &[FOO_SIG]);
        let note = Note::parse(&bytes).unwrap();
        assert_eq!(note.text(), text);
        assert_eq!(note.signatures().len(), 1);
        // ... and then the spec signature no longer matches the (longer) text.
        let v = NoteVerifier::parse(FOO_VKEY).unwrap();
        assert_eq!(
            note.verify(&[v]),
            Err(NoteError::InvalidSignature {
                name: "example.com/foo".into(),
                key_id: 0x530d903a
            })
        );
        // A blank line inside the signature block moves the split: the first signature
        // becomes text.
        let a = signer("a.example", 7);
        let n = Note::sign("t\n", &[&a]).unwrap();
        let mut bytes = n.encode();
        bytes.extend_from_slice(b"\n");
        bytes.extend_from_slice(stranger_line("z.example").as_bytes());
        let moved = Note::parse(&bytes).unwrap();
        assert!(moved.text().starts_with("t\n\n\u{2014} a.example "));
        assert_eq!(moved.signatures()[0].name(), "z.example");
        assert_eq!(
            moved.verify(&[a.verifier()]),
            Err(NoteError::NoVerifiedSignature)
        );
    }

    #[test]
    fn odd_but_valid_texts_parse() {
        // The text is only the newline; the text has empty lines; non-ASCII; DEL (allowed by spec).
        for text in [
            "\n",
            "\n\n",
            "a\n\n\nb\n",
            "\u{1F980} caf\u{e9}\n",
            "del\u{7f}\n",
        ] {
            let s = signer("a.example", 8);
            let bytes = Note::sign(text, &[&s]).unwrap().encode();
            let note = Note::parse(&bytes).unwrap();
            assert_eq!(note.text(), text);
            assert!(note.verify(&[s.verifier()]).is_ok());
        }
    }

    #[test]
    fn signature_count_limits() {
        let s = signer("a.example", 9);
        let mut note = Note::sign("hello\n", &[&s]).unwrap();
        for i in 1..MAX_SIGNATURES {
            note.add_signature(
                NoteSignature::parse_lines(stranger_line(&format!("w{i}.example")).as_bytes())
                    .unwrap()
                    .remove(0),
            )
            .unwrap();
            if i == 16 {
                // More than 16 lines must be accepted.
                let parsed = Note::parse(&note.encode()).unwrap();
                assert_eq!(parsed.signatures().len(), 17);
                assert!(parsed.verify(&[s.verifier()]).is_ok());
            }
        }
        let bytes = note.encode();
        assert_eq!(
            Note::parse(&bytes).unwrap().signatures().len(),
            MAX_SIGNATURES
        );
        let extra = stranger_line("one.too.many");
        assert_eq!(
            note.add_signature(
                NoteSignature::parse_lines(extra.as_bytes())
                    .unwrap()
                    .remove(0)
            ),
            Err(NoteError::SignatureLimitExceeded {
                max: MAX_SIGNATURES
            })
        );
        let over = [bytes.as_slice(), extra.as_bytes()].concat();
        assert_eq!(
            Note::parse(&over),
            Err(NoteError::TooManySignatures {
                count: MAX_SIGNATURES + 1,
                max: MAX_SIGNATURES
            })
        );
        let many: Vec<&NoteSigner> = vec![&s; MAX_SIGNATURES + 1];
        assert_eq!(
            Note::sign("x\n", &many),
            Err(NoteError::SignatureLimitExceeded {
                max: MAX_SIGNATURES
            })
        );
    }

    #[test]
    fn size_limit() {
        let s = signer("a.example", 10);
        let big = format!("{}\n", "a".repeat(MAX_NOTE_SIZE));
        assert!(matches!(
            Note::sign(&big, &[&s]),
            Err(NoteError::InvalidTextToSign(TextProblem::TooLarge { .. }))
        ));
        let bytes = note_bytes(&big, &[FOO_SIG]);
        assert_eq!(
            Note::parse(&bytes),
            Err(NoteError::InvalidText(TextProblem::TooLarge {
                size: bytes.len(),
                max: MAX_NOTE_SIZE
            }))
        );
        // Just under the limit is fine.
        let line_len = s.sign_text("").encode_line().len();
        let text = format!("{}\n", "a".repeat(MAX_NOTE_SIZE - 2 - line_len));
        let note = Note::sign(&text, &[&s]).unwrap();
        assert_eq!(note.encode().len(), MAX_NOTE_SIZE);
        assert!(
            Note::parse(&note.encode())
                .unwrap()
                .verify(&[s.verifier()])
                .is_ok()
        );
    }

    #[test]
    fn sign_rejects_bad_texts() {
        let s = signer("a.example", 11);
        let bad = |problem| Err(NoteError::InvalidTextToSign(problem));
        assert_eq!(
            Note::sign("no newline", &[&s]),
            bad(TextProblem::MissingFinalNewline)
        );
        assert_eq!(Note::sign("", &[&s]), bad(TextProblem::MissingFinalNewline));
        assert_eq!(
            Note::sign("cr\r\n", &[&s]),
            bad(TextProblem::ControlCharacter {
                offset: 2,
                byte: b'\r'
            })
        );
        assert_eq!(Note::sign("ok\n", &[]), Err(NoteError::NoSigners));
        assert!(NoteError::NoSigners.is_caller_misuse());
        assert!(!NoteError::NoVerifiedSignature.is_caller_misuse());
    }

    // --- notes: verification ------------------------------------------------------------------

    #[test]
    fn unknown_keys_are_ignored_even_sharing_name_or_id() {
        let log = signer("example.com/log", 12);
        let other = signer("example.com/log", 13); // same name, other key, so other ID
        let mut note = Note::sign("checkpoint\n", &[&other, &log]).unwrap();
        // Same ID, other name, garbage signature.
        note.add_signature(NoteSignature {
            name: "evil.example".into(),
            key_id: log.key_id(),
            bytes: vec![0; 64],
        })
        .unwrap();
        // Same name, other ID, garbage signature.
        note.add_signature(NoteSignature {
            name: "example.com/log".into(),
            key_id: log.key_id() ^ 1,
            bytes: vec![0; 64],
        })
        .unwrap();
        let note = Note::parse(&note.encode()).unwrap();
        let v = note.verify(&[log.verifier()]).unwrap();
        assert_eq!(v.verified().len(), 1);
        assert!(v.is_signed_by(&log.verifier()));
        assert!(!v.is_signed_by(&other.verifier()));
        assert_eq!(v.note().signatures().len(), 4);
    }

    #[test]
    fn known_key_with_bad_signature_rejects_the_note() {
        let (a, b) = (signer("a.example", 14), signer("b.example", 15));
        let good = Note::sign("text\n", &[&a, &b]).unwrap();
        let known = [a.verifier(), b.verifier()];
        // Flip one bit in b's signature: a still verifies, but the note must be rejected.
        let mut bad = good.clone();
        bad.signatures[1].bytes[10] ^= 1;
        let bad = Note::parse(&bad.encode()).unwrap();
        let want = Err(NoteError::InvalidSignature {
            name: "b.example".into(),
            key_id: b.key_id(),
        });
        assert_eq!(bad.verify(&known), want);
        // Only a is known: b's bad signature is from an unknown key, ignored.
        assert!(bad.verify(&[a.verifier()]).is_ok());
        // Wrong length for a known Ed25519 key.
        let mut short = good.clone();
        short.signatures[0].bytes.pop();
        assert!(matches!(
            short.verify(&known),
            Err(NoteError::InvalidSignature { .. })
        ));
        // A duplicate line from a known key is verified too.
        let mut dup = good.clone();
        let mut copy = good.signatures[0].clone();
        copy.bytes[0] ^= 1;
        dup.add_signature(copy).unwrap();
        assert!(matches!(
            dup.verify(&known),
            Err(NoteError::InvalidSignature { .. })
        ));
        // An identical duplicate is fine and counted once.
        let mut twice = good.clone();
        twice.add_signature(good.signatures[0].clone()).unwrap();
        assert_eq!(twice.verify(&known).unwrap().verified().len(), 2);
    }

    #[test]
    fn no_known_signature_rejects() {
        let (a, b) = (signer("a.example", 16), signer("b.example", 17));
        let note = Note::sign("text\n", &[&a]).unwrap();
        assert_eq!(
            note.verify(&[b.verifier()]),
            Err(NoteError::NoVerifiedSignature)
        );
        assert_eq!(note.verify(&[]), Err(NoteError::NoVerifiedSignature));
        // A cosignature key with the same name and key is a different (name, ID) pair.
        assert_eq!(
            note.verify(&[a.cosignature_verifier()]),
            Err(NoteError::NoVerifiedSignature)
        );
        // The signature of one text does not verify another.
        let mut moved = note.clone();
        moved.text = "other\n".into();
        assert!(matches!(
            moved.verify(&[a.verifier()]),
            Err(NoteError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn duplicate_known_keys_are_misuse() {
        let a = signer("a.example", 18);
        let note = Note::sign("text\n", &[&a]).unwrap();
        let err = note.verify(&[a.verifier(), a.verifier()]).unwrap_err();
        assert_eq!(
            err,
            NoteError::DuplicateKnownKey {
                name: "a.example".into(),
                key_id: a.key_id()
            }
        );
        assert!(err.is_caller_misuse());
    }

    #[test]
    fn cosignature_key_verifies_timestamped_signatures() {
        let w = signer("witness.example", 19);
        let text = "example.com/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let sig = w.cosign_text(text, 1_700_000_000);
        assert_eq!(sig.key_id(), w.cosignature_key_id());
        assert_eq!(sig.bytes().len(), 72);
        let note = Note::parse(&note_bytes(text, &[&sig.encode_line()])).unwrap();
        let v = note.verify(&[w.cosignature_verifier()]).unwrap();
        assert_eq!(v.verified()[0].cosignature_timestamp(), Some(1_700_000_000));
        // The plain key does not know the cosignature's ID.
        assert_eq!(
            note.verify(&[w.verifier()]),
            Err(NoteError::NoVerifiedSignature)
        );
        // Timestamps above 2^63 - 1 are invalid even when signed.
        let huge = w.cosign_text(text, 1 << 63);
        let note = Note::parse(&note_bytes(text, &[&huge.encode_line()])).unwrap();
        assert!(matches!(
            note.verify(&[w.cosignature_verifier()]),
            Err(NoteError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn parse_lines_for_witness_answers() {
        let w = signer("witness.example", 20);
        let a = w.cosign_text("t\n", 5);
        let b = w.sign_text("t\n");
        let block = format!("{}{}", a.encode_line(), b.encode_line());
        assert_eq!(
            NoteSignature::parse_lines(block.as_bytes()).unwrap(),
            vec![a, b]
        );
        assert_eq!(
            NoteSignature::parse_lines(b""),
            Err(NoteError::NoSignatures)
        );
        assert_eq!(
            NoteSignature::parse_lines(&block.as_bytes()[..block.len() - 1]),
            Err(NoteError::InvalidText(TextProblem::MissingFinalNewline))
        );
        assert!(NoteSignature::parse_lines(format!("{block}\n").as_bytes()).is_err());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = Note::parse(&bytes);
                let _ = NoteSignature::parse_lines(&bytes);
                if let Ok(s) = std::str::from_utf8(&bytes) {
                    let _ = NoteVerifier::parse(s);
                    let _ = NoteSigner::from_private_key(s);
                }
            }

            #[test]
            fn parse_never_panics_near_valid(
                prefix in "[a-z\n]{0,20}",
                name in "[a-z.+ ]{0,8}",
                b64 in "[A-Za-z0-9+/=]{0,100}",
            ) {
                let bytes = format!("{prefix}\n\n\u{2014} {name} {b64}\n");
                if let Ok(n) = Note::parse(bytes.as_bytes()) {
                    prop_assert_eq!(n.encode(), bytes.as_bytes());
                }
                let _ = NoteVerifier::parse(&format!("{name}+{prefix}+{b64}"));
            }

            #[test]
            fn round_trip(
                text in "([^\\x00-\\x1f]{0,20}\n){1,5}",
                seeds in proptest::collection::vec(any::<u8>(), 1..4),
            ) {
                let signers: Vec<NoteSigner> = seeds
                    .iter()
                    .enumerate()
                    .map(|(i, s)| NoteSigner::from_seed(&format!("k{i}.example"), &[*s; 32]).unwrap())
                    .collect();
                let refs: Vec<&NoteSigner> = signers.iter().collect();
                let note = Note::sign(&text, &refs).unwrap();
                let bytes = note.encode();
                let parsed = Note::parse(&bytes).unwrap();
                prop_assert_eq!(&parsed, &note);
                let known: Vec<NoteVerifier> = signers.iter().map(NoteSigner::verifier).collect();
                prop_assert!(parsed.verify(&known).is_ok());
            }
        }
    }
}
