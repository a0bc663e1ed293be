// A real OpenID provider (the certified `oidc-provider` package) for the sign-in tests,
// started by tests/sso.rs on loopback. Everything a relying party checks is real: discovery,
// the JWKS, RS256-signed ID tokens, PKCE, state and nonce. Two test conveniences only:
// the login and consent prompts are answered for the account the test names (there is no
// person to type), and the test can ask the token endpoint to hand out a tampered ID token,
// one for another audience or an expired one (re-signed with the provider's own key), to
// prove the relying party refuses them.
//
// Environment: PORT, REDIRECT_URI (comma-separated), POST_LOGOUT_URI, CLIENT_SECRET. Prints "ready" when
// listening. Control: POST /__test/mode {"user": "...", "tamper": "" | "signature" |
// "audience" | "expired"}.
import Provider from 'oidc-provider';
import * as jose from 'jose';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await jose.exportJWK(privateKey)), kid: `k-${Date.now()}`, alg: 'RS256', use: 'sig' };

const accounts = {
  alice: ['ow-admins', 'staff'],
  bob: ['ow-viewers'],
  carol: ['contractors'],
  dave: ['ow-viewers'],
  admin: ['ow-admins'],
};
const mode = { user: 'alice', tamper: '' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'openwatch',
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: process.env.REDIRECT_URI.split(','),
    post_logout_redirect_uris: [process.env.POST_LOGOUT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  jwks: { keys: [jwk] },
  pkce: { required: () => true },
  conformIdTokenClaims: false,
  claims: { openid: ['sub'], profile: ['preferred_username', 'name', 'groups'], email: ['email'] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, preferred_username: id, name: id, email: `${id}@example.com`, groups: accounts[id] ?? [] }),
  }),
});

async function reSign(idToken, change) {
  const header = jose.decodeProtectedHeader(idToken);
  const payload = jose.decodeJwt(idToken);
  change(payload);
  return new jose.CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader(header)
    .sign(privateKey);
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/mode' && ctx.method === 'POST') {
    const chunks = [];
    for await (const c of ctx.req) chunks.push(c);
    Object.assign(mode, JSON.parse(Buffer.concat(chunks).toString() || '{}'));
    ctx.body = mode;
    return;
  }
  if (ctx.path.startsWith('/interaction/')) {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const grant = new provider.Grant({ accountId: mode.user, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    const grantId = await grant.save();
    const to = await provider.interactionResult(ctx.req, ctx.res,
      { login: { accountId: mode.user }, consent: { grantId } }, { mergeWithLastSubmission: false });
    ctx.redirect(to);
    return;
  }
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && ctx.body && ctx.body.id_token && mode.tamper) {
    const t = ctx.body.id_token;
    if (mode.tamper === 'signature') {
      const [h, p, s] = t.split('.');
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
      claims.groups = ['ow-admins'];
      claims.preferred_username = 'mallory';
      ctx.body.id_token = [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.');
    } else if (mode.tamper === 'audience') {
      ctx.body.id_token = await reSign(t, (c) => { c.aud = 'another-client'; });
    } else if (mode.tamper === 'expired') {
      const now = Math.floor(Date.now() / 1000);
      ctx.body.id_token = await reSign(t, (c) => { c.iat = now - 7200; c.exp = now - 3600; });
    }
  }
});

provider.listen(port, '127.0.0.1', () => console.log('ready'));
