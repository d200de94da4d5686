//! Names for the values of the IANA IKEv2 registries.
//!
//! Reference: the IANA "Internet Key Exchange Version 2 (IKEv2) Parameters"
//! registry group (<https://www.iana.org/assignments/ikev2-parameters>),
//! including the assignments made by RFC 9370 (multiple key exchanges),
//! RFC 9242 (IKE_INTERMEDIATE), RFC 9611 (per-resource Child SAs),
//! RFC 9838 (G-IKEv2), RFC 9827 (Sequence Numbers rename), RFC 9867
//! (PPK in IKE_INTERMEDIATE) and the ML-KEM key exchange methods.
//!
//! Every function is a pure `match` table: no allocation, no I/O. A function
//! returns `None` for values that are reserved, unassigned or in a
//! private-use range; callers then print the number instead. The names are
//! the ones IANA uses (the "Notation" column for payload types), so they can
//! be compared with RFC text directly.

/// Lowest IKEv2 Notify Message Type that is a status type (RFC 7296,
/// section 3.10.1); everything below it is an error type.
pub const NOTIFY_STATUS_FLOOR: u16 = 16384;

/// Name of an IKEv2 Exchange Type (the `Exchange Type` header field).
///
/// Values 0–33 are reserved (they are IKEv1 exchange types), 45–239 are
/// unassigned and 240–255 are for private use: all give `None`.
pub fn exchange_name(exchange_type: u8) -> Option<&'static str> {
    Some(match exchange_type {
        34 => "IKE_SA_INIT",
        35 => "IKE_AUTH",
        36 => "CREATE_CHILD_SA",
        37 => "INFORMATIONAL",
        38 => "IKE_SESSION_RESUME",
        39 => "GSA_AUTH",
        40 => "GSA_REGISTRATION",
        41 => "GSA_REKEY",
        42 => "GSA_INBAND_REKEY",
        43 => "IKE_INTERMEDIATE",
        44 => "IKE_FOLLOWUP_KE",
        _ => return None,
    })
}

/// Short name (the IANA "Notation" column) of an IKEv2 Payload Type, as used
/// in RFC message diagrams: `SA`, `KE`, `IDi`, `N`, `SK`, ...
///
/// 0 (No Next Payload) is `"NONE"`. The Nonce payload, which IANA writes as
/// "Ni, Nr", is `"No"` so that the name is a single token whichever side
/// sent it. Values 1–32 (IKEv1 payloads), 55–127 (unassigned) and 128–255
/// (private use) give `None`. See [`payload_long_name`] for the full names.
pub fn payload_name(payload_type: u8) -> Option<&'static str> {
    Some(match payload_type {
        0 => "NONE",
        33 => "SA",
        34 => "KE",
        35 => "IDi",
        36 => "IDr",
        37 => "CERT",
        38 => "CERTREQ",
        39 => "AUTH",
        40 => "No",
        41 => "N",
        42 => "D",
        43 => "V",
        44 => "TSi",
        45 => "TSr",
        46 => "SK",
        47 => "CP",
        48 => "EAP",
        49 => "GSPM",
        50 => "IDg",
        51 => "GSA",
        52 => "KD",
        53 => "SKF",
        54 => "PS",
        _ => return None,
    })
}

/// Full name (the IANA "Next Payload Type" column) of an IKEv2 Payload Type,
/// e.g. `"Security Association"` for 33. Same coverage as [`payload_name`].
pub fn payload_long_name(payload_type: u8) -> Option<&'static str> {
    Some(match payload_type {
        0 => "No Next Payload",
        33 => "Security Association",
        34 => "Key Exchange",
        35 => "Identification - Initiator",
        36 => "Identification - Responder",
        37 => "Certificate",
        38 => "Certificate Request",
        39 => "Authentication",
        40 => "Nonce",
        41 => "Notify",
        42 => "Delete",
        43 => "Vendor ID",
        44 => "Traffic Selector - Initiator",
        45 => "Traffic Selector - Responder",
        46 => "Encrypted and Authenticated",
        47 => "Configuration",
        48 => "Extensible Authentication",
        49 => "Generic Secure Password Method",
        50 => "Group Identification",
        51 => "Group Security Association",
        52 => "Key Download",
        53 => "Encrypted and Authenticated Fragment",
        54 => "Puzzle Solution",
        _ => return None,
    })
}

/// Name of an IKEv2 Notify Message Type, error (0–16383) or status
/// (16384–65535) alike.
///
/// Reserved and unassigned values, and the private-use ranges 8192–16383
/// (errors) and 40960–65535 (status), give `None`. Use [`notify_is_error`]
/// to classify a value whether or not it has a name.
pub fn notify_name(notify_type: u16) -> Option<&'static str> {
    Some(match notify_type {
        // IKEv2 Notify Message Error Types
        1 => "UNSUPPORTED_CRITICAL_PAYLOAD",
        4 => "INVALID_IKE_SPI",
        5 => "INVALID_MAJOR_VERSION",
        7 => "INVALID_SYNTAX",
        9 => "INVALID_MESSAGE_ID",
        11 => "INVALID_SPI",
        14 => "NO_PROPOSAL_CHOSEN",
        17 => "INVALID_KE_PAYLOAD",
        24 => "AUTHENTICATION_FAILED",
        34 => "SINGLE_PAIR_REQUIRED",
        35 => "NO_ADDITIONAL_SAS",
        36 => "INTERNAL_ADDRESS_FAILURE",
        37 => "FAILED_CP_REQUIRED",
        38 => "TS_UNACCEPTABLE",
        39 => "INVALID_SELECTORS",
        40 => "UNACCEPTABLE_ADDRESSES",
        41 => "UNEXPECTED_NAT_DETECTED",
        42 => "USE_ASSIGNED_HoA",
        43 => "TEMPORARY_FAILURE",
        44 => "CHILD_SA_NOT_FOUND",
        45 => "INVALID_GROUP_ID",
        46 => "AUTHORIZATION_FAILED",
        47 => "STATE_NOT_FOUND",
        48 => "TS_MAX_QUEUE",
        49 => "REGISTRATION_FAILED",
        // IKEv2 Notify Message Status Types
        16384 => "INITIAL_CONTACT",
        16385 => "SET_WINDOW_SIZE",
        16386 => "ADDITIONAL_TS_POSSIBLE",
        16387 => "IPCOMP_SUPPORTED",
        16388 => "NAT_DETECTION_SOURCE_IP",
        16389 => "NAT_DETECTION_DESTINATION_IP",
        16390 => "COOKIE",
        16391 => "USE_TRANSPORT_MODE",
        16392 => "HTTP_CERT_LOOKUP_SUPPORTED",
        16393 => "REKEY_SA",
        16394 => "ESP_TFC_PADDING_NOT_SUPPORTED",
        16395 => "NON_FIRST_FRAGMENTS_ALSO",
        16396 => "MOBIKE_SUPPORTED",
        16397 => "ADDITIONAL_IP4_ADDRESS",
        16398 => "ADDITIONAL_IP6_ADDRESS",
        16399 => "NO_ADDITIONAL_ADDRESSES",
        16400 => "UPDATE_SA_ADDRESSES",
        16401 => "COOKIE2",
        16402 => "NO_NATS_ALLOWED",
        16403 => "AUTH_LIFETIME",
        16404 => "MULTIPLE_AUTH_SUPPORTED",
        16405 => "ANOTHER_AUTH_FOLLOWS",
        16406 => "REDIRECT_SUPPORTED",
        16407 => "REDIRECT",
        16408 => "REDIRECTED_FROM",
        16409 => "TICKET_LT_OPAQUE",
        16410 => "TICKET_REQUEST",
        16411 => "TICKET_ACK",
        16412 => "TICKET_NACK",
        16413 => "TICKET_OPAQUE",
        16414 => "LINK_ID",
        16415 => "USE_WESP_MODE",
        16416 => "ROHC_SUPPORTED",
        16417 => "EAP_ONLY_AUTHENTICATION",
        16418 => "CHILDLESS_IKEV2_SUPPORTED",
        16419 => "QUICK_CRASH_DETECTION",
        16420 => "IKEV2_MESSAGE_ID_SYNC_SUPPORTED",
        16421 => "IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED",
        16422 => "IKEV2_MESSAGE_ID_SYNC",
        16423 => "IPSEC_REPLAY_COUNTER_SYNC",
        16424 => "SECURE_PASSWORD_METHODS",
        16425 => "PSK_PERSIST",
        16426 => "PSK_CONFIRM",
        16427 => "ERX_SUPPORTED",
        16428 => "IFOM_CAPABILITY",
        // Was SENDER_REQUEST_ID; renamed by RFC 9838 (G-IKEv2).
        16429 => "GROUP_SENDER",
        16430 => "IKEV2_FRAGMENTATION_SUPPORTED",
        16431 => "SIGNATURE_HASH_ALGORITHMS",
        16432 => "CLONE_IKE_SA_SUPPORTED",
        16433 => "CLONE_IKE_SA",
        16434 => "PUZZLE",
        16435 => "USE_PPK",
        16436 => "PPK_IDENTITY",
        16437 => "NO_PPK_AUTH",
        16438 => "INTERMEDIATE_EXCHANGE_SUPPORTED",
        16439 => "IP4_ALLOWED",
        16440 => "IP6_ALLOWED",
        16441 => "ADDITIONAL_KEY_EXCHANGE",
        16442 => "USE_AGGFRAG",
        16443 => "SUPPORTED_AUTH_METHODS",
        16444 => "SA_RESOURCE_INFO",
        16445 => "USE_PPK_INT",
        16446 => "PPK_IDENTITY_KEY",
        // Early allocation for draft-ietf-ipsecme-ikev2-downgrade-prevention.
        16447 => "IKE_SA_INIT_FULL_TRANSCRIPT_AUTH",
        _ => return None,
    })
}

/// Whether a Notify Message Type is an error type (0–16383, including the
/// error private-use range) rather than a status type (RFC 7296, section
/// 3.10.1). An unrecognised error type in a response means the request
/// failed; unrecognised status types are ignored.
pub fn notify_is_error(notify_type: u16) -> bool {
    notify_type < NOTIFY_STATUS_FLOOR
}

/// Whether a Notify Message Type lies in one of the two private-use ranges:
/// 8192–16383 (errors) or 40960–65535 (status). Such values never have a
/// [`notify_name`].
pub fn notify_is_private_use(notify_type: u16) -> bool {
    matches!(notify_type, 8192..=16383 | 40960..=u16::MAX)
}

/// Short name of a Transform Type (the abbreviation IANA gives in
/// parentheses): `ENCR`, `PRF`, `INTEG`, `KE`, `SN`, `ADDKE1`–`ADDKE7`,
/// `KWA`, `GCAUTH`.
///
/// Type 4 was "Diffie-Hellman Group (D-H)" before RFC 9370 and type 5 was
/// "Extended Sequence Numbers (ESN)" before RFC 9827; the current names are
/// used. 0 is reserved, 15–240 unassigned, 241–255 private use: `None`.
pub fn transform_type_name(transform_type: u8) -> Option<&'static str> {
    Some(match transform_type {
        1 => "ENCR",
        2 => "PRF",
        3 => "INTEG",
        4 => "KE",
        5 => "SN",
        6 => "ADDKE1",
        7 => "ADDKE2",
        8 => "ADDKE3",
        9 => "ADDKE4",
        10 => "ADDKE5",
        11 => "ADDKE6",
        12 => "ADDKE7",
        13 => "KWA",
        14 => "GCAUTH",
        _ => return None,
    })
}

/// Full name of a Transform Type, e.g. `"Key Exchange Method (KE)"` for 4.
/// Same coverage as [`transform_type_name`].
pub fn transform_type_long_name(transform_type: u8) -> Option<&'static str> {
    Some(match transform_type {
        1 => "Encryption Algorithm (ENCR)",
        2 => "Pseudorandom Function (PRF)",
        3 => "Integrity Algorithm (INTEG)",
        4 => "Key Exchange Method (KE)",
        5 => "Sequence Numbers (SN)",
        6 => "Additional Key Exchange 1 (ADDKE1)",
        7 => "Additional Key Exchange 2 (ADDKE2)",
        8 => "Additional Key Exchange 3 (ADDKE3)",
        9 => "Additional Key Exchange 4 (ADDKE4)",
        10 => "Additional Key Exchange 5 (ADDKE5)",
        11 => "Additional Key Exchange 6 (ADDKE6)",
        12 => "Additional Key Exchange 7 (ADDKE7)",
        13 => "Key Wrap Algorithm (KWA)",
        14 => "Group Controller Authentication Method (GCAUTH)",
        _ => return None,
    })
}

/// Name of a Transform ID within its Transform Type.
///
/// Dispatches to [`encr_name`], [`prf_name`], [`integ_name`], [`ke_name`]
/// (for type 4 and the additional key exchanges 6–12, which share the
/// Key Exchange Method ID space), [`sn_name`], [`kwa_name`] and
/// [`gcauth_name`]. Unknown transform types give `None`.
pub fn transform_id_name(transform_type: u8, id: u16) -> Option<&'static str> {
    match transform_type {
        1 => encr_name(id),
        2 => prf_name(id),
        3 => integ_name(id),
        4 | 6..=12 => ke_name(id),
        5 => sn_name(id),
        13 => kwa_name(id),
        14 => gcauth_name(id),
        _ => None,
    }
}

/// Name of a Transform Type 1 (Encryption Algorithm) Transform ID.
///
/// 0, 10 and 22 are reserved and 17 unassigned; 36–1023 are unassigned
/// and 1024–65535 private use.
pub fn encr_name(id: u16) -> Option<&'static str> {
    Some(match id {
        1 => "ENCR_DES_IV64",
        2 => "ENCR_DES",
        3 => "ENCR_3DES",
        4 => "ENCR_RC5",
        5 => "ENCR_IDEA",
        6 => "ENCR_CAST",
        7 => "ENCR_BLOWFISH",
        8 => "ENCR_3IDEA",
        9 => "ENCR_DES_IV32",
        11 => "ENCR_NULL",
        12 => "ENCR_AES_CBC",
        13 => "ENCR_AES_CTR",
        14 => "ENCR_AES_CCM_8",
        15 => "ENCR_AES_CCM_12",
        16 => "ENCR_AES_CCM_16",
        18 => "ENCR_AES_GCM_8",
        19 => "ENCR_AES_GCM_12",
        20 => "ENCR_AES_GCM_16",
        21 => "ENCR_NULL_AUTH_AES_GMAC",
        23 => "ENCR_CAMELLIA_CBC",
        24 => "ENCR_CAMELLIA_CTR",
        25 => "ENCR_CAMELLIA_CCM_8",
        26 => "ENCR_CAMELLIA_CCM_12",
        27 => "ENCR_CAMELLIA_CCM_16",
        28 => "ENCR_CHACHA20_POLY1305",
        29 => "ENCR_AES_CCM_8_IIV",
        30 => "ENCR_AES_GCM_16_IIV",
        31 => "ENCR_CHACHA20_POLY1305_IIV",
        32 => "ENCR_KUZNYECHIK_MGM_KTREE",
        33 => "ENCR_MAGMA_MGM_KTREE",
        34 => "ENCR_KUZNYECHIK_MGM_MAC_KTREE",
        35 => "ENCR_MAGMA_MGM_MAC_KTREE",
        _ => return None,
    })
}

/// Name of a Transform Type 2 (Pseudorandom Function) Transform ID.
///
/// 0 is reserved, 10–1023 unassigned, 1024–65535 private use.
pub fn prf_name(id: u16) -> Option<&'static str> {
    Some(match id {
        1 => "PRF_HMAC_MD5",
        2 => "PRF_HMAC_SHA1",
        3 => "PRF_HMAC_TIGER",
        4 => "PRF_AES128_XCBC",
        5 => "PRF_HMAC_SHA2_256",
        6 => "PRF_HMAC_SHA2_384",
        7 => "PRF_HMAC_SHA2_512",
        8 => "PRF_AES128_CMAC",
        9 => "PRF_HMAC_STREEBOG_512",
        _ => return None,
    })
}

/// Name of a Transform Type 3 (Integrity Algorithm) Transform ID.
///
/// 0 is `"NONE"` (used with combined-mode ciphers); 15–1023 are unassigned
/// and 1024–65535 private use.
pub fn integ_name(id: u16) -> Option<&'static str> {
    Some(match id {
        0 => "NONE",
        1 => "AUTH_HMAC_MD5_96",
        2 => "AUTH_HMAC_SHA1_96",
        3 => "AUTH_DES_MAC",
        4 => "AUTH_KPDK_MD5",
        5 => "AUTH_AES_XCBC_96",
        6 => "AUTH_HMAC_MD5_128",
        7 => "AUTH_HMAC_SHA1_160",
        8 => "AUTH_AES_CMAC_96",
        9 => "AUTH_AES_128_GMAC",
        10 => "AUTH_AES_192_GMAC",
        11 => "AUTH_AES_256_GMAC",
        12 => "AUTH_HMAC_SHA2_256_128",
        13 => "AUTH_HMAC_SHA2_384_192",
        14 => "AUTH_HMAC_SHA2_512_256",
        _ => return None,
    })
}

/// Name of a Transform Type 4 (Key Exchange Method) Transform ID, also used
/// by the Additional Key Exchange types 6–12 and by the KE payload's
/// "Key Exchange Method" field (the former "Diffie-Hellman Group Num").
///
/// 0 is `"NONE"` (meaningful in ADDKE transforms, RFC 9370); 3–4 are
/// reserved, 6–13 and 38–1023 unassigned, 1024–65535 private use.
pub fn ke_name(id: u16) -> Option<&'static str> {
    Some(match id {
        0 => "NONE",
        1 => "768-bit MODP Group",
        2 => "1024-bit MODP Group",
        5 => "1536-bit MODP Group",
        14 => "2048-bit MODP Group",
        15 => "3072-bit MODP Group",
        16 => "4096-bit MODP Group",
        17 => "6144-bit MODP Group",
        18 => "8192-bit MODP Group",
        19 => "256-bit random ECP group",
        20 => "384-bit random ECP group",
        21 => "521-bit random ECP group",
        22 => "1024-bit MODP Group with 160-bit Prime Order Subgroup",
        23 => "2048-bit MODP Group with 224-bit Prime Order Subgroup",
        24 => "2048-bit MODP Group with 256-bit Prime Order Subgroup",
        25 => "192-bit Random ECP Group",
        26 => "224-bit Random ECP Group",
        27 => "brainpoolP224r1",
        28 => "brainpoolP256r1",
        29 => "brainpoolP384r1",
        30 => "brainpoolP512r1",
        31 => "Curve25519",
        32 => "Curve448",
        33 => "GOST3410_2012_256",
        34 => "GOST3410_2012_512",
        35 => "ml-kem-512",
        36 => "ml-kem-768",
        37 => "ml-kem-1024",
        _ => return None,
    })
}

/// Name of a Transform Type 5 (Sequence Numbers, formerly Extended Sequence
/// Numbers) Transform ID.
///
/// RFC 9827 renamed 0 ("No Extended Sequence Numbers") and 1 ("Extended
/// Sequence Numbers"); 2 was added by RFC 9838 for group SAs.
pub fn sn_name(id: u16) -> Option<&'static str> {
    Some(match id {
        0 => "32-bit Sequential Numbers",
        1 => "Partially Transmitted 64-bit Sequential Numbers",
        2 => "32-bit Unspecified Numbers",
        _ => return None,
    })
}

/// Name of a Transform Type 13 (Key Wrap Algorithm, G-IKEv2) Transform ID.
pub fn kwa_name(id: u16) -> Option<&'static str> {
    Some(match id {
        1 => "KW_5649_128",
        2 => "KW_5649_192",
        3 => "KW_5649_256",
        4 => "KW_ARX",
        _ => return None,
    })
}

/// Name of a Transform Type 14 (Group Controller Authentication Method,
/// G-IKEv2) Transform ID.
pub fn gcauth_name(id: u16) -> Option<&'static str> {
    Some(match id {
        1 => "Implicit",
        2 => "Digital Signature",
        _ => return None,
    })
}

/// Name of an IKEv2 Transform Attribute Type: 14, `"Key Length"` (in bits,
/// RFC 7296), and 18, `"Signature Algorithm Identifier"` (carried by the
/// GCAUTH Digital Signature transform, RFC 9838).
///
/// The Attribute Format (AF) bit is ignored, so both the bare type and the
/// raw 16-bit field (`0x800E`) are accepted. 0–13 and 15–17 are reserved
/// (IKEv1 attribute numbers), 16384–32767 are private use.
pub fn transform_attribute_name(attribute_type: u16) -> Option<&'static str> {
    Some(match attribute_type & 0x7fff {
        14 => "Key Length",
        18 => "Signature Algorithm Identifier",
        _ => return None,
    })
}

/// Name of an IKEv2 Security Protocol Identifier (the Protocol ID of
/// Proposal, Notify and Delete payloads): `IKE`, `AH`, `ESP`, ...
///
/// 0 is reserved (and means "no SPI" in a Notify payload): `None`.
pub fn protocol_name(protocol_id: u8) -> Option<&'static str> {
    Some(match protocol_id {
        1 => "IKE",
        2 => "AH",
        3 => "ESP",
        4 => "FC_ESP_HEADER",
        5 => "FC_CT_AUTHENTICATION",
        6 => "GIKE_UPDATE",
        _ => return None,
    })
}

/// Name of an IKEv2 Identification Payload ID Type (IDi, IDr, IDg).
pub fn id_type_name(id_type: u8) -> Option<&'static str> {
    Some(match id_type {
        1 => "ID_IPV4_ADDR",
        2 => "ID_FQDN",
        3 => "ID_RFC822_ADDR",
        5 => "ID_IPV6_ADDR",
        9 => "ID_DER_ASN1_DN",
        10 => "ID_DER_ASN1_GN",
        11 => "ID_KEY_ID",
        12 => "ID_FC_NAME",
        13 => "ID_NULL",
        _ => return None,
    })
}

/// Name of an IKEv2 Authentication Method (AUTH payload).
pub fn auth_method_name(method: u8) -> Option<&'static str> {
    Some(match method {
        1 => "RSA Digital Signature",
        2 => "Shared Key Message Integrity Code",
        3 => "DSS Digital Signature",
        9 => "ECDSA with SHA-256 on the P-256 curve",
        10 => "ECDSA with SHA-384 on the P-384 curve",
        11 => "ECDSA with SHA-512 on the P-521 curve",
        12 => "Generic Secure Password Authentication Method",
        13 => "NULL Authentication",
        14 => "Digital Signature",
        _ => return None,
    })
}

/// Name of an IKEv2 Certificate Encoding (CERT and CERTREQ payloads).
///
/// 0 and 5 are reserved, 16–200 unassigned, 201–255 private use.
pub fn cert_encoding_name(encoding: u8) -> Option<&'static str> {
    Some(match encoding {
        1 => "PKCS #7 wrapped X.509 certificate",
        2 => "PGP Certificate",
        3 => "DNS Signed Key",
        4 => "X.509 Certificate - Signature",
        6 => "Kerberos Token",
        7 => "Certificate Revocation List (CRL)",
        8 => "Authority Revocation List (ARL)",
        9 => "SPKI Certificate",
        10 => "X.509 Certificate - Attribute",
        11 => "Raw RSA Key (DEPRECATED)",
        12 => "Hash and URL of X.509 certificate",
        13 => "Hash and URL of X.509 bundle",
        14 => "OCSP Content",
        15 => "Raw Public Key",
        _ => return None,
    })
}

/// Name of an IKEv2 Traffic Selector Type (TSi and TSr payloads).
pub fn ts_type_name(ts_type: u8) -> Option<&'static str> {
    Some(match ts_type {
        7 => "TS_IPV4_ADDR_RANGE",
        8 => "TS_IPV6_ADDR_RANGE",
        9 => "TS_FC_ADDR_RANGE",
        10 => "TS_SECLABEL",
        _ => return None,
    })
}

/// Name of an IKEv2 Configuration Payload CFG Type.
pub fn cfg_type_name(cfg_type: u8) -> Option<&'static str> {
    Some(match cfg_type {
        1 => "CFG_REQUEST",
        2 => "CFG_REPLY",
        3 => "CFG_SET",
        4 => "CFG_ACK",
        _ => return None,
    })
}

/// Name of an IKEv2 Configuration Payload Attribute Type.
///
/// The reserved top bit of the 16-bit field is ignored, so the raw field
/// can be passed. 5, 9 and 11 are reserved in the current registry (they
/// were INTERNAL_ADDRESS_EXPIRY, INTERNAL_IP6_NETMASK and INTERNAL_IP6_NBNS
/// in RFC 4306) and give `None`, as do 30–16383 (unassigned) and
/// 16384–32767 (private use).
pub fn cfg_attribute_name(attribute_type: u16) -> Option<&'static str> {
    Some(match attribute_type & 0x7fff {
        1 => "INTERNAL_IP4_ADDRESS",
        2 => "INTERNAL_IP4_NETMASK",
        3 => "INTERNAL_IP4_DNS",
        4 => "INTERNAL_IP4_NBNS",
        6 => "INTERNAL_IP4_DHCP",
        7 => "APPLICATION_VERSION",
        8 => "INTERNAL_IP6_ADDRESS",
        10 => "INTERNAL_IP6_DNS",
        12 => "INTERNAL_IP6_DHCP",
        13 => "INTERNAL_IP4_SUBNET",
        14 => "SUPPORTED_ATTRIBUTES",
        15 => "INTERNAL_IP6_SUBNET",
        16 => "MIP6_HOME_PREFIX",
        17 => "INTERNAL_IP6_LINK",
        18 => "INTERNAL_IP6_PREFIX",
        19 => "HOME_AGENT_ADDRESS",
        20 => "P_CSCF_IP4_ADDRESS",
        21 => "P_CSCF_IP6_ADDRESS",
        22 => "FTT_KAT",
        23 => "EXTERNAL_SOURCE_IP4_NAT_INFO",
        24 => "TIMEOUT_PERIOD_FOR_LIVENESS_CHECK",
        25 => "INTERNAL_DNS_DOMAIN",
        26 => "INTERNAL_DNSSEC_TA",
        27 => "ENCDNS_IP4",
        28 => "ENCDNS_IP6",
        29 => "ENCDNS_DIGEST_INFO",
        _ => return None,
    })
}

/// Name of an IKEv2 Hash Algorithm, as listed in the
/// SIGNATURE_HASH_ALGORITHMS notify (RFC 7427) and in ENCDNS_DIGEST_INFO.
///
/// 0 is reserved, 8–1023 unassigned, 1024–65535 private use.
pub fn hash_algorithm_name(algorithm: u16) -> Option<&'static str> {
    Some(match algorithm {
        1 => "SHA1",
        2 => "SHA2-256",
        3 => "SHA2-384",
        4 => "SHA2-512",
        5 => "Identity",
        6 => "STREEBOG_256",
        7 => "STREEBOG_512",
        _ => return None,
    })
}

/// Name of an IKEv2 Notification IPCOMP Transform ID (the data of an
/// IPCOMP_SUPPORTED notify).
pub fn ipcomp_transform_name(id: u8) -> Option<&'static str> {
    Some(match id {
        1 => "IPCOMP_OUI",
        2 => "IPCOMP_DEFLATE",
        3 => "IPCOMP_LZS",
        4 => "IPCOMP_LZJH",
        _ => return None,
    })
}

/// Name of an EAP packet Code (RFC 3748, and RFC 6696 for 5 and 6), the
/// first octet of the EAP message carried in an EAP payload.
pub fn eap_code_name(code: u8) -> Option<&'static str> {
    Some(match code {
        1 => "Request",
        2 => "Response",
        3 => "Success",
        4 => "Failure",
        5 => "Initiate",
        6 => "Finish",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Every value of `0..=max` that `f` names, with the name; panics if two
    /// values share a name (a typo or a duplicated number).
    fn assert_unique(table: &str, max: u32, f: impl Fn(u32) -> Option<&'static str>) -> usize {
        let mut seen: HashMap<&'static str, u32> = HashMap::new();
        for v in 0..=max {
            if let Some(name) = f(v) {
                assert!(!name.is_empty(), "{table}: empty name for {v}");
                assert_eq!(name.trim(), name, "{table}: stray whitespace in {name:?}");
                if let Some(prev) = seen.insert(name, v) {
                    panic!("{table}: {name:?} is the name of both {prev} and {v}");
                }
            }
        }
        seen.len()
    }

    fn u8_table(f: fn(u8) -> Option<&'static str>) -> impl Fn(u32) -> Option<&'static str> {
        move |v| f(v as u8)
    }

    fn u16_table(f: fn(u16) -> Option<&'static str>) -> impl Fn(u32) -> Option<&'static str> {
        move |v| f(v as u16)
    }

    #[test]
    fn names_are_unique_within_each_table() {
        let m8 = u32::from(u8::MAX);
        let m16 = u32::from(u16::MAX);
        assert_eq!(assert_unique("exchange", m8, u8_table(exchange_name)), 11);
        assert_eq!(assert_unique("payload", m8, u8_table(payload_name)), 23);
        assert_eq!(
            assert_unique("payload long", m8, u8_table(payload_long_name)),
            23
        );
        assert_eq!(
            assert_unique("notify", m16, u16_table(notify_name)),
            25 + 64
        );
        assert_eq!(
            assert_unique("transform type", m8, u8_table(transform_type_name)),
            14
        );
        assert_eq!(
            assert_unique(
                "transform type long",
                m8,
                u8_table(transform_type_long_name)
            ),
            14
        );
        assert_eq!(assert_unique("encr", m16, u16_table(encr_name)), 32);
        assert_eq!(assert_unique("prf", m16, u16_table(prf_name)), 9);
        assert_eq!(assert_unique("integ", m16, u16_table(integ_name)), 15);
        assert_eq!(assert_unique("ke", m16, u16_table(ke_name)), 28);
        assert_eq!(assert_unique("sn", m16, u16_table(sn_name)), 3);
        assert_eq!(assert_unique("kwa", m16, u16_table(kwa_name)), 4);
        assert_eq!(assert_unique("gcauth", m16, u16_table(gcauth_name)), 2);
        for t in 0..=u8::MAX {
            let n = assert_unique("transform id", m16, |id| transform_id_name(t, id as u16));
            assert_eq!(
                n > 0,
                transform_type_name(t).is_some(),
                "transform type {t}"
            );
        }
        // Attribute tables ignore the top bit, so only the low 15 bits are
        // distinct values.
        assert_eq!(
            assert_unique(
                "transform attribute",
                0x7fff,
                u16_table(transform_attribute_name)
            ),
            2
        );
        assert_eq!(
            assert_unique("cfg attribute", 0x7fff, u16_table(cfg_attribute_name)),
            26
        );
        assert_eq!(assert_unique("protocol", m8, u8_table(protocol_name)), 6);
        assert_eq!(assert_unique("id type", m8, u8_table(id_type_name)), 9);
        assert_eq!(
            assert_unique("auth method", m8, u8_table(auth_method_name)),
            9
        );
        assert_eq!(
            assert_unique("cert encoding", m8, u8_table(cert_encoding_name)),
            14
        );
        assert_eq!(assert_unique("ts type", m8, u8_table(ts_type_name)), 4);
        assert_eq!(assert_unique("cfg type", m8, u8_table(cfg_type_name)), 4);
        assert_eq!(
            assert_unique("hash", m16, u16_table(hash_algorithm_name)),
            7
        );
        assert_eq!(
            assert_unique("ipcomp", m8, u8_table(ipcomp_transform_name)),
            4
        );
        assert_eq!(assert_unique("eap code", m8, u8_table(eap_code_name)), 6);
    }

    #[test]
    fn exchange_spot_checks() {
        assert_eq!(exchange_name(34), Some("IKE_SA_INIT"));
        assert_eq!(exchange_name(35), Some("IKE_AUTH"));
        assert_eq!(exchange_name(37), Some("INFORMATIONAL"));
        assert_eq!(exchange_name(42), Some("GSA_INBAND_REKEY"));
        assert_eq!(exchange_name(44), Some("IKE_FOLLOWUP_KE"));
        assert_eq!(exchange_name(2), None); // IKEv1 Main Mode
        assert_eq!(exchange_name(45), None);
        assert_eq!(exchange_name(240), None);
    }

    #[test]
    fn payload_spot_checks() {
        assert_eq!(payload_name(0), Some("NONE"));
        assert_eq!(payload_name(33), Some("SA"));
        assert_eq!(payload_name(40), Some("No"));
        assert_eq!(payload_name(46), Some("SK"));
        assert_eq!(payload_name(53), Some("SKF"));
        assert_eq!(payload_name(54), Some("PS"));
        assert_eq!(payload_name(1), None); // IKEv1 SA
        assert_eq!(payload_name(55), None);
        assert_eq!(payload_name(128), None);
        assert_eq!(payload_long_name(0), Some("No Next Payload"));
        assert_eq!(payload_long_name(35), Some("Identification - Initiator"));
        assert_eq!(
            payload_long_name(53),
            Some("Encrypted and Authenticated Fragment")
        );
        assert_eq!(payload_long_name(54), Some("Puzzle Solution"));
        for t in 0..=u8::MAX {
            assert_eq!(
                payload_name(t).is_some(),
                payload_long_name(t).is_some(),
                "{t}"
            );
        }
    }

    #[test]
    fn notify_spot_checks() {
        assert_eq!(notify_name(0), None);
        assert_eq!(notify_name(1), Some("UNSUPPORTED_CRITICAL_PAYLOAD"));
        assert_eq!(notify_name(14), Some("NO_PROPOSAL_CHOSEN"));
        assert_eq!(notify_name(17), Some("INVALID_KE_PAYLOAD"));
        assert_eq!(notify_name(40), Some("UNACCEPTABLE_ADDRESSES"));
        assert_eq!(notify_name(41), Some("UNEXPECTED_NAT_DETECTED"));
        assert_eq!(notify_name(47), Some("STATE_NOT_FOUND"));
        assert_eq!(notify_name(50), None);
        assert_eq!(notify_name(8192), None);
        assert_eq!(notify_name(16384), Some("INITIAL_CONTACT"));
        assert_eq!(notify_name(16388), Some("NAT_DETECTION_SOURCE_IP"));
        assert_eq!(notify_name(16390), Some("COOKIE"));
        assert_eq!(notify_name(16396), Some("MOBIKE_SUPPORTED"));
        assert_eq!(notify_name(16397), Some("ADDITIONAL_IP4_ADDRESS"));
        assert_eq!(notify_name(16398), Some("ADDITIONAL_IP6_ADDRESS"));
        assert_eq!(notify_name(16399), Some("NO_ADDITIONAL_ADDRESSES"));
        assert_eq!(notify_name(16400), Some("UPDATE_SA_ADDRESSES"));
        assert_eq!(notify_name(16401), Some("COOKIE2"));
        assert_eq!(notify_name(16402), Some("NO_NATS_ALLOWED"));
        assert_eq!(notify_name(16417), Some("EAP_ONLY_AUTHENTICATION"));
        assert_eq!(notify_name(16430), Some("IKEV2_FRAGMENTATION_SUPPORTED"));
        assert_eq!(notify_name(16431), Some("SIGNATURE_HASH_ALGORITHMS"));
        assert_eq!(notify_name(16441), Some("ADDITIONAL_KEY_EXCHANGE"));
        assert_eq!(notify_name(16446), Some("PPK_IDENTITY_KEY"));
        assert_eq!(notify_name(16447), Some("IKE_SA_INIT_FULL_TRANSCRIPT_AUTH"));
        assert_eq!(notify_name(16448), None);
        assert_eq!(notify_name(40960), None);
        assert_eq!(notify_name(u16::MAX), None);

        assert!(notify_is_error(0));
        assert!(notify_is_error(24));
        assert!(notify_is_error(16383));
        assert!(!notify_is_error(16384));
        assert!(!notify_is_error(u16::MAX));
        for t in 0..=u16::MAX {
            if notify_is_private_use(t) {
                assert_eq!(notify_name(t), None, "private-use {t} has a name");
            }
        }
        assert!(!notify_is_private_use(8191));
        assert!(notify_is_private_use(8192));
        assert!(notify_is_private_use(16383));
        assert!(!notify_is_private_use(16384));
        assert!(!notify_is_private_use(40959));
        assert!(notify_is_private_use(40960));
    }

    #[test]
    fn transform_spot_checks() {
        assert_eq!(transform_type_name(1), Some("ENCR"));
        assert_eq!(transform_type_name(4), Some("KE"));
        assert_eq!(transform_type_name(6), Some("ADDKE1"));
        assert_eq!(transform_type_name(12), Some("ADDKE7"));
        assert_eq!(transform_type_name(0), None);
        assert_eq!(transform_type_name(15), None);
        assert_eq!(
            transform_type_long_name(3),
            Some("Integrity Algorithm (INTEG)")
        );
        for t in 0..=u8::MAX {
            assert_eq!(
                transform_type_name(t).is_some(),
                transform_type_long_name(t).is_some(),
                "{t}"
            );
        }

        assert_eq!(transform_id_name(1, 12), Some("ENCR_AES_CBC"));
        assert_eq!(transform_id_name(1, 20), Some("ENCR_AES_GCM_16"));
        assert_eq!(transform_id_name(1, 28), Some("ENCR_CHACHA20_POLY1305"));
        assert_eq!(transform_id_name(1, 0), None);
        assert_eq!(transform_id_name(1, 17), None);
        assert_eq!(transform_id_name(1, 1024), None);
        assert_eq!(transform_id_name(2, 5), Some("PRF_HMAC_SHA2_256"));
        assert_eq!(transform_id_name(2, 9), Some("PRF_HMAC_STREEBOG_512"));
        assert_eq!(transform_id_name(3, 0), Some("NONE"));
        assert_eq!(transform_id_name(3, 12), Some("AUTH_HMAC_SHA2_256_128"));
        assert_eq!(transform_id_name(3, 14), Some("AUTH_HMAC_SHA2_512_256"));
        assert_eq!(transform_id_name(4, 14), Some("2048-bit MODP Group"));
        assert_eq!(transform_id_name(4, 19), Some("256-bit random ECP group"));
        assert_eq!(transform_id_name(4, 31), Some("Curve25519"));
        assert_eq!(transform_id_name(4, 3), None);
        assert_eq!(transform_id_name(6, 36), Some("ml-kem-768"));
        assert_eq!(transform_id_name(12, 0), Some("NONE"));
        assert_eq!(transform_id_name(5, 0), Some("32-bit Sequential Numbers"));
        assert_eq!(
            transform_id_name(5, 1),
            Some("Partially Transmitted 64-bit Sequential Numbers")
        );
        assert_eq!(transform_id_name(13, 4), Some("KW_ARX"));
        assert_eq!(transform_id_name(14, 2), Some("Digital Signature"));
        assert_eq!(transform_id_name(0, 12), None);
        assert_eq!(transform_id_name(15, 12), None);
        // Every ADDKE type shares the KE table.
        for t in 6..=12 {
            for id in 0..=u16::MAX {
                assert_eq!(transform_id_name(t, id), transform_id_name(4, id));
            }
        }

        assert_eq!(transform_attribute_name(14), Some("Key Length"));
        assert_eq!(transform_attribute_name(0x800e), Some("Key Length"));
        assert_eq!(transform_attribute_name(1), None);
    }

    #[test]
    fn other_table_spot_checks() {
        assert_eq!(protocol_name(1), Some("IKE"));
        assert_eq!(protocol_name(2), Some("AH"));
        assert_eq!(protocol_name(3), Some("ESP"));
        assert_eq!(protocol_name(0), None);

        assert_eq!(id_type_name(1), Some("ID_IPV4_ADDR"));
        assert_eq!(id_type_name(3), Some("ID_RFC822_ADDR"));
        assert_eq!(id_type_name(4), None); // IKEv1 ID_IPV4_ADDR_SUBNET
        assert_eq!(id_type_name(13), Some("ID_NULL"));

        assert_eq!(auth_method_name(1), Some("RSA Digital Signature"));
        assert_eq!(
            auth_method_name(2),
            Some("Shared Key Message Integrity Code")
        );
        assert_eq!(auth_method_name(14), Some("Digital Signature"));
        assert_eq!(auth_method_name(4), None);

        assert_eq!(cert_encoding_name(4), Some("X.509 Certificate - Signature"));
        assert_eq!(
            cert_encoding_name(12),
            Some("Hash and URL of X.509 certificate")
        );
        assert_eq!(cert_encoding_name(5), None);

        assert_eq!(ts_type_name(7), Some("TS_IPV4_ADDR_RANGE"));
        assert_eq!(ts_type_name(10), Some("TS_SECLABEL"));
        assert_eq!(ts_type_name(6), None);

        assert_eq!(cfg_type_name(1), Some("CFG_REQUEST"));
        assert_eq!(cfg_type_name(4), Some("CFG_ACK"));
        assert_eq!(cfg_type_name(0), None);

        assert_eq!(cfg_attribute_name(1), Some("INTERNAL_IP4_ADDRESS"));
        assert_eq!(cfg_attribute_name(0x8001), Some("INTERNAL_IP4_ADDRESS"));
        assert_eq!(cfg_attribute_name(20), Some("P_CSCF_IP4_ADDRESS"));
        assert_eq!(cfg_attribute_name(25), Some("INTERNAL_DNS_DOMAIN"));
        assert_eq!(cfg_attribute_name(5), None);
        assert_eq!(cfg_attribute_name(30), None);
        assert_eq!(cfg_attribute_name(16384), None);

        assert_eq!(hash_algorithm_name(1), Some("SHA1"));
        assert_eq!(hash_algorithm_name(2), Some("SHA2-256"));
        assert_eq!(hash_algorithm_name(5), Some("Identity"));
        assert_eq!(hash_algorithm_name(0), None);
        assert_eq!(hash_algorithm_name(1024), None);

        assert_eq!(ipcomp_transform_name(2), Some("IPCOMP_DEFLATE"));
        assert_eq!(ipcomp_transform_name(0), None);

        assert_eq!(eap_code_name(1), Some("Request"));
        assert_eq!(eap_code_name(4), Some("Failure"));
        assert_eq!(eap_code_name(0), None);
        assert_eq!(eap_code_name(7), None);
    }
}
