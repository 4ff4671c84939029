/**
 * The request examples of the original product's README (`README.md` of perfumerlabs/otp),
 * copied verbatim. A client written against that README sends exactly these bodies, so the
 * contracts and the API must accept every one of them unchanged.
 */
export const SEED_EXAMPLES = {
  createSms: `{
    "ip": "123.123.123.123",
    "phone": "77011234567",
    "password": "12345",
    "lifetime": 300,
    "message": "Your OTP is 12345"
}`,
  createCall: `{
    "ip": "123.123.123.123",
    "phone": "77011234567",
    "password": "12345",
    "lifetime": 300
}`,
  createEmail: `{
    "ip": "123.123.123.123",
    "email": "foobar@example.com",
    "password": "12345",
    "lifetime": 300,
    "subject": "Hello",
    "text": "Your OTP is 12345"
}`,
  createTelegram: `{
    "ip": "123.123.123.123",
    "chat_id": "1234567890",
    "password": "12345",
    "lifetime": 300,
    "message": "Your OTP is 12345"
}`,
  checkSms: `{
    "phone": "77011234567",
    "password": "12345"
}`,
  checkEmail: `{
    "email": "foobar@example.com",
    "password": "12345"
}`,
  checkTelegram: `{
    "chat_id": "1234567890",
    "password": "12345"
}`,
  limitSms: `{
    "ips": [
        {
            "minutes": 10,
            "rate": 3
        },
        {
            "minutes": 60,
            "rate": 10
        }
    ],
    "phones": [
        {
            "minutes": 10,
            "rate": 3
        }
    ]
}`,
  limitCall: `{
    "ips": [
        {
            "minutes": 10,
            "rate": 3
        },
        {
            "minutes": 60,
            "rate": 10
        }
    ],
    "phones": [
        {
            "minutes": 10,
            "rate": 3
        }
    ]
}`,
  limitEmail: `{
    "ips": [
        {
            "minutes": 10,
            "rate": 3
        },
        {
            "minutes": 60,
            "rate": 10
        }
    ],
    "emails": [
        {
            "minutes": 10,
            "rate": 3
        }
    ]
}`,
  target: `{
    "password": "1234567",
    "channel": "telegram"
}`,
  password: `{
    "target": "77011234567"
}`,
} as const;

/** The original product's response examples, for envelope tests. */
export const SEED_RESPONSES = {
  ok: `{
    "status": true
}`,
  ipLimit: `{
    "status": false,
    "status_code": "ip_limit",
    "message": "IP limit has been reached"
}`,
  phoneLimit: `{
    "status": false,
    "status_code": "phone_limit",
    "message": "Phone limit has been reached"
}`,
  emailLimit: `{
    "status": false,
    "status_code": "email_limit",
    "message": "Email limit has been reached"
}`,
  target: `{
    "status": true,
    "content": {
        "target": "1234567890"
    }
}`,
  password: `{
    "status": true,
    "content": {
        "password": "123456"
    }
}`,
} as const;
