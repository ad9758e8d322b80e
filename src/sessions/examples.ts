// Request and response examples for the OpenAPI document (one request per channel).

const LIVE_CHAT = '5b0c2f52-3f6a-4f55-9d8e-0c1f6f2e9a11';
const SESSION = '8f14e45f-ceea-467f-a0e6-1b6f2d9c7a52';

export const initiateSessionExamples = {
  whatsapp: {
    summary: 'WhatsApp: a new customer, first message as an approved template',
    value: {
      liveChatId: LIVE_CHAT,
      operatorId: 'op-17',
      contact: { name: 'Ann', phones: ['+49 151 23456789'] },
      account: '+49 151 23456789',
      message: { template: { name: 'order_update', language: 'en_US', parameters: ['Ann'] } },
    },
  },
  telegram: {
    summary: 'Telegram: an existing contact who wrote to the bot, by @username',
    value: {
      liveChatId: LIVE_CHAT,
      operatorId: 'op-17',
      contactId: '3d2a8a1e-4c55-4b8e-9a0e-7f0b8c1d2e3f',
      account: '@ann_example',
      message: { text: 'Hello Ann, this is support. How can we help?' },
    },
  },
  email: {
    summary: 'Email: a new customer, the account taken from their only email address',
    value: {
      liveChatId: LIVE_CHAT,
      operatorId: 'op-17',
      contact: { name: 'Ann', emails: ['ann@example.com'] },
      message: { text: 'Hello Ann, following up on your order.' },
    },
  },
};

export const sessionAlreadyOpenExample = {
  session_already_open: {
    summary: 'An open session with this person exists',
    value: {
      type: '/problems/session_already_open',
      title: 'Conflict',
      status: 409,
      detail: `An open session with this person already exists on this live chat: ${SESSION}.`,
      code: 'session_already_open',
      instance: '/sessions',
      existingSessionId: SESSION,
    },
  },
};
