// Cosmos DB (serverless, Entra-only) with Herald's database and every container of
// shared/store/cosmos.py CONTAINERS. The app's data-plane role cannot create containers, so they
// are created here; tests/infra/test_infra.py checks this list against CONTAINERS.

param name string
param location string
param tags object
param databaseName string
@description('Principal id of the app identity that receives the data role.')
param principalId string
@allowed([
  'Enabled'
  'Disabled'
])
@description('Disabled with private networking: the app then goes through private endpoints.')
param publicNetworkAccess string

// Cosmos DB Built-in Data Contributor (a data-plane role definition of every account).
var dataContributorRoleId = '00000000-0000-0000-0000-000000000002'

// Mirrors CONTAINERS in shared/store/cosmos.py. Hierarchical keys are MultiHash; excludedPaths are
// the spec's excluded paths plus the '/"_etag"/?' path its indexing_policy() always adds;
// compositeIndexes are its sorted_together paths, each ascending and descending; ttlOn sets
// defaultTtl -1 (items expire only through their own `ttl`).
var containers = [
  {
    name: 'applications'
    partitionKeyPaths: [
      '/tenantId'
    ]
    kind: 'Hash'
    excludedPaths: [
      { path: '/"_etag"/?' }
    ]
    compositeIndexes: []
    ttlOn: true
  }
  {
    name: 'event-types'
    partitionKeyPaths: [
      '/tenantId'
    ]
    kind: 'Hash'
    excludedPaths: [
      { path: '/schemas/*' }
      { path: '/"_etag"/?' }
    ]
    compositeIndexes: []
    ttlOn: false
  }
  {
    name: 'endpoints'
    partitionKeyPaths: [
      '/tenantId'
      '/appId'
    ]
    kind: 'MultiHash'
    excludedPaths: [
      { path: '/secrets/*' }
      { path: '/headers/*' }
      { path: '/"_etag"/?' }
    ]
    compositeIndexes: []
    ttlOn: false
  }
  {
    name: 'messages'
    partitionKeyPaths: [
      '/tenantId'
      '/appId'
    ]
    kind: 'MultiHash'
    excludedPaths: [
      { path: '/payload/*' }
      { path: '/transformationsParams/*' }
      { path: '/response/?' }
      { path: '/"_etag"/?' }
    ]
    compositeIndexes: []
    ttlOn: true
  }
  {
    name: 'idempotency'
    partitionKeyPaths: [
      '/tenantId'
    ]
    kind: 'Hash'
    excludedPaths: [
      { path: '/response/*' }
      { path: '/"_etag"/?' }
    ]
    compositeIndexes: []
    ttlOn: true
  }
  {
    name: 'dead-letters'
    partitionKeyPaths: [
      '/tenantId'
    ]
    kind: 'Hash'
    excludedPaths: [
      { path: '/body/?' }
      { path: '/"_etag"/?' }
    ]
    compositeIndexes: [
      [
        { path: '/receivedAt', order: 'ascending' }
        { path: '/id', order: 'ascending' }
      ]
      [
        { path: '/receivedAt', order: 'descending' }
        { path: '/id', order: 'descending' }
      ]
    ]
    ttlOn: true
  }
  {
    name: 'portal-revocations'
    partitionKeyPaths: [
      '/tenantId'
    ]
    kind: 'Hash'
    excludedPaths: [
      { path: '/"_etag"/?' }
    ]
    compositeIndexes: []
    ttlOn: true
  }
]

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  // checkov:skip=CKV_AZURE_101: public unless enablePrivateNetworking=true (then Disabled, through private endpoints): Flex Consumption without VNet integration has no fixed source IPs to allow; access is Entra-only (local auth disabled)
  // checkov:skip=CKV_AZURE_99: same as CKV_AZURE_101: no IP filter can name Flex Consumption's outbound addresses; enablePrivateNetworking=true closes public access
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    capabilities: [
      {
        name: 'EnableServerless'
      }
    ]
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    backupPolicy: {
      type: 'Continuous'
      continuousModeProperties: {
        tier: 'Continuous7Days'
      }
    }
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: publicNetworkAccess
    isVirtualNetworkFilterEnabled: false
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
  }
}

resource sqlContainers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = [for container in containers: {
  parent: database
  name: container.name
  properties: {
    resource: union({
      id: container.name
      partitionKey: {
        paths: container.partitionKeyPaths
        kind: container.kind
        version: 2
      }
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          {
            path: '/*'
          }
        ]
        excludedPaths: container.excludedPaths
        compositeIndexes: container.compositeIndexes
      }
    }, container.ttlOn ? { defaultTtl: -1 } : {})
  }
}]

resource dataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = {
  parent: account
  name: guid(account.id, principalId, dataContributorRoleId)
  properties: {
    roleDefinitionId: '${account.id}/sqlRoleDefinitions/${dataContributorRoleId}'
    principalId: principalId
    scope: account.id
  }
}

output id string = account.id
output name string = account.name
output endpoint string = account.properties.documentEndpoint
