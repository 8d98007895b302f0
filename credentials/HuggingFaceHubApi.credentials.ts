import type { IAuthenticateGeneric, ICredentialTestRequest, ICredentialType, INodeProperties } from 'n8n-workflow';

export class HuggingFaceHubApi implements ICredentialType {
	name = 'huggingFaceHubApi';

	displayName = 'Hugging Face Hub API';

	documentationUrl = 'https://huggingface.co/docs/hub/security-tokens';

	icon = { light: 'file:huggingFace.svg', dark: 'file:huggingFace.svg' } as const;

	properties: INodeProperties[] = [
		{
			displayName: 'Access Token',
			name: 'accessToken',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			description: 'A read token from huggingface.co/settings/tokens; needed for private or gated models',
		},
		{
			displayName: 'Endpoint URL',
			name: 'endpoint',
			type: 'string',
			default: 'https://huggingface.co',
			description: 'The Hub or a mirror of it (what HF_ENDPOINT sets for the Python tools)',
		},
	];

	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: {
			headers: {
				Authorization: '=Bearer {{$credentials.accessToken}}',
			},
		},
	};

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{$credentials.endpoint.replace(/\\/+$/, "")}}',
			url: '/api/whoami-v2',
		},
	};
}
