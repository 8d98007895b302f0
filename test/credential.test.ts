import { HuggingFaceHubApi } from '../credentials/HuggingFaceHubApi.credentials';
import { FakeHub } from './helpers/fake-hub';

describe('Hugging Face Hub credential', () => {
	const cred = new HuggingFaceHubApi();

	it('has its own type name, a password-field token and a default endpoint', () => {
		expect(cred.name).toBe('huggingFaceHubApi');
		expect(cred.name).not.toBe('huggingFaceApi'); // n8n's built-in one is for the Inference API
		const token = cred.properties.find((p) => p.name === 'accessToken')!;
		expect(token.typeOptions?.password).toBe(true);
		expect(cred.properties.find((p) => p.name === 'endpoint')!.default).toBe('https://huggingface.co');
	});

	it('tests against /api/whoami-v2 on the configured endpoint with a Bearer token', async () => {
		expect(cred.test.request.url).toBe('/api/whoami-v2');
		expect(String(cred.test.request.baseURL)).toContain('$credentials.endpoint');
		expect(cred.authenticate.properties.headers?.Authorization).toBe('=Bearer {{$credentials.accessToken}}');
		// what that request gets from a Hub: 401 without a valid token, 200 with one
		const hub = await new FakeHub().start();
		try {
			expect((await fetch(`${hub.url}/api/whoami-v2`)).status).toBe(401);
			const ok = await fetch(`${hub.url}/api/whoami-v2`, { headers: { Authorization: `Bearer ${hub.token}` } });
			expect(ok.status).toBe(200);
		} finally {
			await hub.stop();
		}
	});
});
