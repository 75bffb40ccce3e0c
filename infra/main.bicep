// Herald on Azure: `azd up` provisions everything here, then deploys the app to the Function App.
// Subscription scope: the resource group is created here too. See infra/README.md.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name: part of every resource name, and a tag on each.')
param environmentName string

@minLength(1)
@description('Region of every resource (Flex Consumption must be offered there).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Entra tenant that issues Herald\'s bearer tokens. Empty: the deployment\'s tenant.')
param authTenantId string = ''

@minLength(1)
@description('Audience (aud) tokens must carry: the Application ID URI of Herald\'s app registration, e.g. api://herald.')
param authAudience string

@description('Token issuer (iss). Empty: Entra v2.0, https://login.microsoftonline.com/<tenant>/v2.0.')
param authIssuer string = ''

@description('The issuer\'s signing keys (JWKS). Empty: https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys.')
param authJwksUrl string = ''

@description('Token claim that names the caller\'s Herald tenant (see infra/README.md). Empty: azp, the calling application.')
param authTenantClaim string = 'azp'

@description('Every caller in one Herald tenant on purpose: required with a claim all tokens share, such as tid (Herald refuses it otherwise).')
param authSingleTenant bool = false

@description('Comma-separated Herald tenants whose herald.operator role counts (GET /api/v1/metrics). Empty: any token with the role.')
param operatorTenants string = ''

@description('Comma-separated browser origins allowed to call the API (no spaces). Empty: none.')
param corsAllowedOrigins string = ''

@secure()
@description('Redis URL for rate limits shared by all instances (Azure Managed Redis), kept as a Key Vault secret the app setting references. Empty: per-instance limits.')
param redisUrl string = ''

@description('Cosmos DB database name.')
param cosmosDatabaseName string = 'herald'

@description('Name of the Key Vault key that wraps the data keys of endpoint secrets (the KEK).')
param kekKeyName string = 'herald-kek-key'

@description('Deployments made before the KEK was a key: name of the KEK secret (herald-kek), so secrets sealed with it still open. Empty: none.')
param legacyKekSecretName string = ''

@description('Name of the Key Vault key that signs app portal tokens (EC P-256, sign only).')
param portalKeyName string = 'herald-portal-signing-key'

@description('Base of the app portal links (scheme, host, any path prefix), e.g. a gateway\'s URL. Empty: the address each app-portal-access request arrived at.')
param publicBaseUrl string = ''

@description('Comma-separated object ids of the systems that may publish to the inbound queue (Storage Queue Data Message Sender on that queue only). They publish for any tenant. Empty: none.')
param inboundPublisherPrincipalIds string = ''

@description('Durable Functions task hub. Empty: herald<resource token>, stable per environment. Change it only to start over on a new hub (infra/README.md).')
param taskHubName string = ''

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Zone-redundant Function App: Flex Consumption then keeps two always-ready (billed) instances per function group; not offered in every region.')
param zoneRedundant bool = false

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
@description('Replication of the host storage account (inbound queue, Durable state): zone-redundant unless the region has no zones.')
param storageSku string = 'Standard_ZRS'

@description('Days Log Analytics keeps telemetry.')
param logRetentionDays int = 30

@description('E-mail address for alerts. Empty: alerts fire without notifying anyone.')
param alertEmail string = ''

@description('Delivery failure rate (percent) above which the delivery alert fires.')
param deliveryFailureRatePercent int = 20

@description('Fewest attempts in the 15-minute window before the failure rate counts.')
param deliveryFailureMinAttempts int = 20

@description('Put API Management (rate limit, body-size limit) in front of the Function App.')
param enableApiManagement bool = false

@description('API Management publisher e-mail (required with enableApiManagement).')
param apimPublisherEmail string = ''

@allowed([
  'BasicV2'
  'StandardV2'
  'Developer'
  'Basic'
  'Standard'
  'Premium'
])
param apimSku string = 'BasicV2'

@description('Requests one client IP may make per minute through API Management.')
param apimRateLimitPerMinute int = 600

@description('VNet integration, private endpoints for Cosmos DB, Storage and Key Vault, public access off, fixed egress IP.')
param enablePrivateNetworking bool = false

// Empty parameters (unset azd variables) fall back to the Entra defaults.
// https://login.microsoftonline.com/ in the public cloud (the sovereign clouds have their own).
var loginEndpoint = environment().authentication.loginEndpoint
var tokenTenantId = empty(authTenantId) ? tenant().tenantId : authTenantId
var tokenIssuer = empty(authIssuer) ? '${loginEndpoint}${tokenTenantId}/v2.0' : authIssuer
var tokenJwksUrl = empty(authJwksUrl) ? '${loginEndpoint}${tokenTenantId}/discovery/v2.0/keys' : authJwksUrl
var tokenTenantClaim = empty(authTenantClaim) ? 'azp' : authTenantClaim
var publicNetworkAccess = enablePrivateNetworking ? 'Disabled' : 'Enabled'
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  application: 'herald'
}
var functionAppName = 'func-herald-${resourceToken}'
var deploymentContainerName = 'app-package-${resourceToken}'
// Task hub names: 3-45 letters and digits, starting with a letter.
var effectiveTaskHubName = empty(taskHubName) ? 'herald${resourceToken}' : taskHubName
// Fixed queue names, shared with blueprints/inbound_queue.py (INBOUND_QUEUE) and the host's poison queue.
var inboundQueues = [
  'herald-inbound'
  'herald-inbound-poison'
]

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-herald-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    workspaceName: 'log-herald-${resourceToken}'
    appInsightsName: 'appi-herald-${resourceToken}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    retentionInDays: logRetentionDays
    alertEmail: alertEmail
    deliveryFailureRatePercent: deliveryFailureRatePercent
    deliveryFailureMinAttempts: deliveryFailureMinAttempts
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'stherald${resourceToken}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    deploymentContainerName: deploymentContainerName
    queueNames: inboundQueues
    inboundPublisherPrincipalIds: empty(inboundPublisherPrincipalIds) ? [] : split(inboundPublisherPrincipalIds, ',')
    skuName: storageSku
    publicNetworkAccess: publicNetworkAccess
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    name: 'cosmos-herald-${resourceToken}'
    location: location
    tags: tags
    databaseName: cosmosDatabaseName
    principalId: identity.outputs.principalId
    publicNetworkAccess: publicNetworkAccess
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-herald-${take(resourceToken, 11)}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    kekKeyName: kekKeyName
    legacyKekSecretName: legacyKekSecretName
    portalKeyName: portalKeyName
    redisUrl: redisUrl
    publicNetworkAccess: publicNetworkAccess
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module network 'modules/network.bicep' = if (enablePrivateNetworking) {
  name: 'network'
  scope: rg
  params: {
    name: 'vnet-herald-${resourceToken}'
    location: location
    tags: tags
    cosmosAccountId: cosmos.outputs.id
    storageAccountId: storage.outputs.id
    keyVaultId: keyVault.outputs.id
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-herald-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    appInsightsConnectionString: monitoring.outputs.connectionString
    cosmosEndpoint: cosmos.outputs.endpoint
    cosmosDatabaseName: cosmosDatabaseName
    keyVaultUri: keyVault.outputs.uri
    kekKeyName: keyVault.outputs.kekKeyName
    legacyKekSecretName: legacyKekSecretName
    portalKeyName: keyVault.outputs.portalKeyName
    publicBaseUrl: publicBaseUrl
    authIssuer: tokenIssuer
    authAudience: authAudience
    authJwksUrl: tokenJwksUrl
    authTenantClaim: tokenTenantClaim
    authSingleTenant: authSingleTenant
    operatorTenants: operatorTenants
    corsAllowedOrigins: corsAllowedOrigins
    redisUrlSecretUri: empty(redisUrl) ? '' : keyVault.outputs.redisUrlSecretUri
    taskHubName: effectiveTaskHubName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    zoneRedundant: zoneRedundant
    subnetId: enablePrivateNetworking ? network.outputs.appSubnetId : ''
  }
}

module apim 'modules/apim.bicep' = if (enableApiManagement) {
  name: 'apim'
  scope: rg
  params: {
    name: 'apim-herald-${resourceToken}'
    location: location
    tags: tags
    publisherEmail: apimPublisherEmail
    publisherName: 'Herald'
    sku: apimSku
    backendUrl: functionApp.outputs.uri
    rateLimitCalls: apimRateLimitPerMinute
    rateLimitPeriodSeconds: 60
    // Herald's HERALD_MAX_REQUEST_BYTES default (1 MiB + 64 KiB): larger bodies stop at the edge.
    maxRequestBytes: 1114112
  }
}

// azd stores these in the environment (.azure/<env>/.env).
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_COSMOS_ACCOUNT_NAME string = cosmos.outputs.name
output KEK_KEY_NAME string = kekKeyName
output PORTAL_KEY_NAME string = portalKeyName
output TASK_HUB_NAME string = effectiveTaskHubName
output API_BASE_URL string = enableApiManagement ? '${apim.outputs.gatewayUrl}/api' : '${functionApp.outputs.uri}/api'
output EGRESS_IP string = enablePrivateNetworking ? network.outputs.egressIp : ''
