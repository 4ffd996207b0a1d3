"""Fixed keys and published vectors for the HTTP Signature tests (tests/activitypub/test_signatures_*.py).

Our own vectors: alice's fixed RSA-2048 key signing a Follow at NOW; a change in the signing string format
must fail against them. Published vectors: draft-cavage-http-signatures-12 Appendix C and RFC 9421 §4.3 /
Appendix B.2.3. Test use only.
"""

from __future__ import annotations

from datetime import UTC, datetime

# A fixed RSA-2048 key, generated once with keys.generate_key_pair() for these vectors. Test use only.
ALICE_PRIVATE = """-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCo5S2snSrnhobr
ZibFy/1NuyTe362omCC2DyIoNEK2jgewz8ny4B6J6osszLJRL+GwJPAsMMp1axJ5
NDWVgGD8QZM1DOd4QyGC9iWRCfaSQOAFo+TbYSCYLo9r/93ZThF3zpqjzYF8TESg
NgV9QD5w6wGql+VmBCfH0omNrfnnrlJ+3nhbyRm8xfZepu0uKRgYb4xKuz57XpLL
9rtqSEZFyBHQbdcqzW8TqdLpUGVpyyhF0EzZa2/jUOMcqt9KXbeLE87uyBGmRiNo
dcsSAMgVL57fnojVky6AcSd6VpiIVdPtFYO/Qqk8WX2Mm7/+aeDWmJBQcNzmdrsd
HOZbhWF1AgMBAAECggEACT3pLKAmwCev675+OzhLVxOwE88p2IKZaMYVytP5Qf8u
Lx/x8b3qqU9R1gJymTL8QhuqMVVqt9eMfjvytGP+/OWRIZEExX7oCq3NJnHk+uHK
xPaGyBnLfqhTSjW/69kqwqyKgyPPze1Dm4Ad0sdz4z7EPdzHYgGONEbW3X0e6392
pkXqc8FFNCYgFT+ySK8dqDIdjv4ZK4iSK3h+h0MHi/kyGayW+rlwJ+U1SmduBvqL
kvhH9G8THgH8RVTKwYK/02JVAjRwUyQBLNAttzXj8TMARx5qNeNppz2Q2EQOtYKO
owRXVvgd6WUUM9YaE/PwBTSBROmL+frj23A6lQfKrQKBgQDgee51/6b7TjaPbosH
QHU1ZIbuKr4wYiSMypoN2lldclZoMQTE8G/TYimKwEqBiA0x0KZJasWaTQgDbeOt
0KMeRFJ4YANlt1M2OlONOzcEHh0whWQgiVlzQjusUExAbPdr2biz7qH1a/zjHY5o
ATAZDKbC7h/Ml7cCCmTpoYPckwKBgQDAnRJN46dZKajUWyHWDb8uVESPUelm8wNN
RqvN4G1JTxJ4Jr/ms3J2Ht5v0TpmPnuA+IEMYtDm4H+OTPRdNqQeZsvVm0zbxYWH
00POYLvaz/oa/E5nDWb4yDFAyFcq2Tnd7GCR3EWXh2qNYFCQkukdxJ/eUEJLdYf7
cETUgfOW1wKBgQDenc2xVCJjo8NUJ4rVXEVg+BsgY19OWGZrAhoZlut9UwECP2q9
bL1Z40XThrPdFfIP7x6aPLtPNQm3bOmY3QqH37XyDzYPT+nEI7/slkcPXFYSYpdT
9SKyvYK0dsXINsiBOuCEASq5W6jmC8/IsTTkArn3I3SB0Av8iBZf5IAC5QKBgAvT
mSQfLk9TN4KSdelmvq5hjjQem24uza0ZAcOKXCt8J24pMu8/ZW/LRW0oM6XDgGHS
4FmaV6lVb3+VSgvPJxSWyz06Y+W6oxBL8IXjeqVcz8aIZ2f8cq4j3KJVqsR+wgbW
VLegBsXfErPLjibSXm3tfMNxuiBX/xl5M0C5GfPRAoGAGbILj9IDtL/pgYFG+nwZ
/HRzco1DCIjR2Rj/NXRpmvvoiQPZdbLhiKG8uuY1b95btOVpoIKKhyNedRBuAwd8
V+oTWDqac31hkVKyjJh8ufUoQ74BC0YZMC8x1IdQr64L8IKaGDosGJ/gMqTUPZ4g
N4lQn9uof7jtYtQCMqAG/6I=
-----END PRIVATE KEY-----
"""
ALICE_PUBLIC = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqOUtrJ0q54aG62Ymxcv9
Tbsk3t+tqJggtg8iKDRCto4HsM/J8uAeieqLLMyyUS/hsCTwLDDKdWsSeTQ1lYBg
/EGTNQzneEMhgvYlkQn2kkDgBaPk22EgmC6Pa//d2U4Rd86ao82BfExEoDYFfUA+
cOsBqpflZgQnx9KJja35565Sft54W8kZvMX2XqbtLikYGG+MSrs+e16Sy/a7akhG
RcgR0G3XKs1vE6nS6VBlacsoRdBM2Wtv41DjHKrfSl23ixPO7sgRpkYjaHXLEgDI
FS+e356I1ZMugHEnelaYiFXT7RWDv0KpPFl9jJu//mng1piQUHDc5na7HRzmW4Vh
dQIDAQAB
-----END PUBLIC KEY-----
"""

ALICE_KEY = "https://fedi.example/users/alice#main-key"
ALICE_PATH_KEY = "https://fedi.example/users/alice/main-key"  # GoToSocial style
ALICE_ACTOR = "https://fedi.example/users/alice"

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
INBOX = "https://remote.example/users/bob/inbox"
FOLLOW = b'{"type":"Follow"}'
AP_JSON = "application/activity+json"


# --- fixed vectors: a change in the signing string format must fail here -------------------------------

FIXED_POST_SIGNATURE = (
    'keyId="https://fedi.example/users/alice#main-key",algorithm="rsa-sha256",'
    'headers="(request-target) host date digest content-type",'
    'signature="hGZ3NNFbsXr9/W2Wl8UWHu6eIkjaniDQ94gvNsfX2a67vnPNrxU+E4XeNXGvxEVe/v8LwyvwWSwp2hlP0c9Q9Igat'
    "O0oG/oLTU5WWSLTRxaQT/SM3844eL/+ZWHbOEPyVlr1u3je0LcrSR9nMh7mIBzfJB4iahNriggdRSl4t69Bqx1BgNdXtgDRmQMa8"
    "Rr9vXEO5/PZVFkvaHoaxr/J+a7rXtpsYMw1F+j9Hr4RACDIV9GAy0lqIde0JI69pl/e5agaQA6STppVZ7QDs424H9XNjPsdAeUg7"
    'YoDtRYoFDkSwcYt/jt6Qd1P4aazOjLp01GYy4XjfEQfcvK9pd/RqQ=="'
)
FIXED_GET_SIGNATURE = (
    'keyId="https://fedi.example/users/alice#main-key",algorithm="rsa-sha256",'
    'headers="(request-target) host date",'
    'signature="EhL5j92Rs1ghH6/0JjuvjRVH2Fhc1YsT+kvZtaGXPxAin/NsTakvA89YTzWlYu6CMQcftmzbg1gL10x9fItGgvFN'
    "b5lM7FnEa4QyGb2z4OjhmaY0x5ObjA7CarMuu+BaEi1/RU17ffCqKm8CgJ0Z6tp8kAXSioyQMbIDtU68uMLeZxzlwct1YH3gFeD+"
    "VbGU+tKOVTXfw/3uHcPjGK6Oaw3dZlYccrXDvcXwg1OrcrzVIFeaTxysBlngQoh1vMA/5OOgGf615pHtgjlFDwSt4RQ48FhOJd5q"
    'R5so3F0SSuE2OgnPXNMNcMW358A8sxEXfltl9Hn2jtfyyrCZw0/aMg=="'
)
FIXED_RFC9421_SIGNATURE = (
    "sig1=:Fv7KOY88rIFL4KTRZHtmu7GTEGgJLzKgenIyw4oAvPPadUvgxQV8JE99/JcEhSmTmUkVs3AX+OuIhQU/dPV939iHHBsSRm4o"
    "na18jKcCMYGZ0411GPR+k2NC7lF+eWpgTsgKZhVfIyloDzEcfzQztO7M0HwEbe1HNqPDdg//znhZVYx9SBoAVZTFVFiXEfYe5Gx9vP7G"
    "1JcfV6Er6B6NlsTjUoYsTUjyFNbZT2gSSp6LG+18W4Pfs6eSDdeWkHPyAgtoG5jzWf/27IXM6mIY6Jtjt8mpwWjiIPoRfyaPqmB6c2D"
    "KLNBzor15Vm4m/Xg1d6cxa7NwFIDYcP9VObGlwg==:"
)


# --- draft-cavage-http-signatures-12 Appendix C (1024-bit test key from the draft) ----------------------

SPEC_PUBLIC = """-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDCFENGw33yGihy92pDjZQhl0C3
6rPJj+CvfSC8+q28hxA161QFNUd13wuCTUcq0Qd2qsBe/2hFyc2DCJJg0h1L78+6
Z4UMR7EOcpfdUE9Hf3m/hs+FUR45uBJeDK1HSFHD8bHKD6kv8FPGfJTotc+2xjJw
oYi+1hqp1fIekaxsyQIDAQAB
-----END PUBLIC KEY-----
"""
SPEC_PRIVATE = """-----BEGIN RSA PRIVATE KEY-----
MIICXgIBAAKBgQDCFENGw33yGihy92pDjZQhl0C36rPJj+CvfSC8+q28hxA161QF
NUd13wuCTUcq0Qd2qsBe/2hFyc2DCJJg0h1L78+6Z4UMR7EOcpfdUE9Hf3m/hs+F
UR45uBJeDK1HSFHD8bHKD6kv8FPGfJTotc+2xjJwoYi+1hqp1fIekaxsyQIDAQAB
AoGBAJR8ZkCUvx5kzv+utdl7T5MnordT1TvoXXJGXK7ZZ+UuvMNUCdN2QPc4sBiA
QWvLw1cSKt5DsKZ8UETpYPy8pPYnnDEz2dDYiaew9+xEpubyeW2oH4Zx71wqBtOK
kqwrXa/pzdpiucRRjk6vE6YY7EBBs/g7uanVpGibOVAEsqH1AkEA7DkjVH28WDUg
f1nqvfn2Kj6CT7nIcE3jGJsZZ7zlZmBmHFDONMLUrXR/Zm3pR5m0tCmBqa5RK95u
412jt1dPIwJBANJT3v8pnkth48bQo/fKel6uEYyboRtA5/uHuHkZ6FQF7OUkGogc
mSJluOdc5t6hI1VsLn0QZEjQZMEOWr+wKSMCQQCC4kXJEsHAve77oP6HtG/IiEn7
kpyUXRNvFsDE0czpJJBvL/aRFUJxuRK91jhjC68sA7NsKMGg5OXb5I5Jj36xAkEA
gIT7aFOYBFwGgQAQkWNKLvySgKbAZRTeLBacpHMuQdl1DfdntvAyqpAZ0lY0RKmW
G6aFKaqQfOXKCyWoUiVknQJAXrlgySFci/2ueKlIE1QqIiLSZ8V8OlpFLRnb1pzI
7U1yQXnTAEFYM560yJlzUpOb1V4cScGd365tiSMvxLOvTA==
-----END RSA PRIVATE KEY-----
"""
SPEC_HEADERS = {
    "Host": "example.com",
    "Date": "Sun, 05 Jan 2014 21:31:40 GMT",
    "Content-Type": "application/json",
    "Digest": "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
    "Content-Length": "18",
}
SPEC_NOW = datetime(2014, 1, 5, 21, 31, 40, tzinfo=UTC)
SPEC_BODY = b'{"hello": "world"}'
SPEC_VECTORS = {  # C.1 default, C.2 basic, C.3 all headers
    "date": "SjWJWbWN7i0wzBvtPl8rbASWz5xQW6mcJmn+ibttBqtifLN7Sazz6m79cNfwwb8DMJ5cou1s7uEGKKCs+FLEEaDV5lp7q25Wq"
    "S+lavg7T8hc0GppauB6hbgEKTwblDHYGEtbGmtdHgVCk9SuS13F0hZ8FD0k/5OxEPXe5WozsbM=",
    "(request-target) host date": "qdx+H7PHHDZgy4y/Ahn9Tny9V3GP6YgBPyUXMmoxWtLbHpUnXS2mg2+SbrQDMCJypxBLSPQR2aAjn7"
    "ndmw2iicw3HMbe8VfEdKFYRqzic+efkb3nndiv/x1xSHDJWeSWkx3ButlYSuBskLu6kd9Fswtemr3lgdDEmn04swr2Os0=",
    "(request-target) host date content-type digest content-length": "vSdrb+dS3EceC9bcwHSo4MlyKS59iFIrhgYkz8+o"
    "VLEEzmYZZvRs8rgOp+63LEM3v+MFHB32NfpB2bEKBIvB1q52LaEUHFv120V01IL+TAD48XaERZFukWgHoBTLMhYS2Gb51gWxpeIq8knRmP"
    "nYePbF5MOkR0Zkly4zKH7s1dE=",
}


# --- RFC 9421 published vectors ---------------------------------------------------------------------------

RFC_RSA_PUBLIC = """-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEAhAKYdtoeoy8zcAcR874L8cnZxKzAGwd7v36APp7Pv6Q2jdsPBRrw
WEBnez6d0UDKDwGbc6nxfEXAy5mbhgajzrw3MOEt8uA5txSKobBpKDeBLOsdJKFq
MGmXCQvEG7YemcxDTRPxAleIAgYYRjTSd/QBwVW9OwNFhekro3RtlinV0a75jfZg
kne/YiktSvLG34lw2zqXBDTC5NHROUqGTlML4PlNZS5Ri2U4aCNx2rUPRcKIlE0P
uKxI4T+HIaFpv8+rdV6eUgOrB2xeI1dSFFn/nnv5OoZJEIB+VmuKn3DCUcCZSFlQ
PSXSfBDiUGhwOw76WuSSsf1D4b/vLoJ10wIDAQAB
-----END RSA PUBLIC KEY-----
"""  # RFC 9421 B.1.1 test-key-rsa (PKCS#1 form)
RFC_PSS_PUBLIC = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2
+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+
oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq
gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W
Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4
aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI
2wIDAQAB
-----END PUBLIC KEY-----
"""  # RFC 9421 B.1.2 test-key-rsa-pss
RFC_DIGEST = "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"
RFC_PROXY_HEADERS = {  # RFC 9421 §4.3: the reverse proxy's rsa-v1_5-sha256 signature
    "Host": "origin.host.internal.example",
    "Date": "Tue, 20 Apr 2021 02:07:56 GMT",
    "Content-Type": "application/json",
    "Content-Length": "18",
    "Forwarded": "for=192.0.2.123;host=example.com;proto=https",
    "Content-Digest": RFC_DIGEST,
    "Signature-Input": 'proxy_sig=("@method" "@authority" "@path" "content-digest" "content-type" '
    '"content-length" "forwarded");created=1618884480;keyid="test-key-rsa";alg="rsa-v1_5-sha256";'
    "expires=1618884540",
    "Signature": "proxy_sig=:S6ZzPXSdAMOPjN/6KXfXWNO/f7V6cHm7BXYUh3YD/fRad4BCaRZxP+JH+8XY1I6+8Cy+CM5g92iHgxtR"
    "Pz+MjniOaYmdkDcnL9cCpXJleXsOckpURl49GwiyUpZ10KHgOEe11sx3G2gxI8S0jnxQB+Pu68U9vVcasqOWAEObtNKKZd8tSFu7LB5YA"
    "v0RAGhB8tmpv7sFnIm9y+7X5kXQfi8NMaZaA8i2ZHwpBdg7a6CMfwnnrtflzvZdXAsD3LH2TwevU+/PBPv0B6NMNk93wUs/vfJvye+Yu"
    "I87HU38lZHowtznbLVdp770I6VHR6WfgS9ddzirrswsE1w5o0LV/g==:",
}
RFC_FULL_COVERAGE_HEADERS = {  # RFC 9421 B.2.3: rsa-pss-sha512 without an alg parameter
    "Host": "example.com",
    "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "Content-Type": "application/json",
    "Content-Length": "18",
    "Content-Digest": RFC_DIGEST,
    "Signature-Input": 'sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" '
    '"content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"',
    "Signature": "sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt"
    "683+qRpRRU5p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA2"
    "HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka39VBrohr"
    "9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==:",
}
