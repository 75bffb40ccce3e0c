// Log Analytics, workspace-based Application Insights with Entra-only ingestion, and the alert
// rules. The alerts read metrics the app emits through OpenTelemetry (names in infra/README.md):
//   herald.deliveries            counter, one per delivery attempt, dimension `outcome` = success | failure
//   herald.exhausted             counter, one per message-endpoint pair that used its whole retry schedule
//   herald.inbound.poison_depth  gauge, approximate message count of the herald-inbound-poison queue

param workspaceName string
param appInsightsName string
param location string
param tags object
@description('Principal id of the app identity: publishes telemetry (Monitoring Metrics Publisher).')
param principalId string
@description('Days Log Analytics keeps telemetry.')
param retentionInDays int
@description('E-mail address alerts are sent to. Empty: the alerts fire without notifying anyone.')
param alertEmail string
@description('Delivery failure rate (percent of attempts in 15 minutes) above which an alert fires.')
param deliveryFailureRatePercent int
@description('Fewest delivery attempts in 15 minutes for the failure rate to count (no alert on 1 of 2 failing).')
param deliveryFailureMinAttempts int

var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

var alerts = [
  {
    name: 'delivery-failure-rate'
    description: 'More than ${deliveryFailureRatePercent}% of webhook delivery attempts failed in 15 minutes (metric herald.deliveries, dimension outcome).'
    severity: 2
    query: 'customMetrics | where name == "herald.deliveries" | summarize total = sum(valueSum), failed = sumif(valueSum, tostring(customDimensions["outcome"]) == "failure") | where total >= ${deliveryFailureMinAttempts} | extend failureRatePercent = 100.0 * failed / total'
    measure: 'failureRatePercent'
    threshold: deliveryFailureRatePercent
  }
  {
    name: 'delivery-exhausted'
    description: 'Messages used their whole retry schedule without reaching an endpoint (metric herald.exhausted).'
    severity: 2
    query: 'customMetrics | where name == "herald.exhausted" | summarize exhausted = sum(valueSum)'
    measure: 'exhausted'
    threshold: 0
  }
  {
    name: 'inbound-poison-queue'
    description: 'Messages are waiting in the herald-inbound-poison queue (metric herald.inbound.poison_depth): inbound messages failed maxDequeueCount times.'
    severity: 1
    query: 'customMetrics | where name == "herald.inbound.poison_depth" | summarize depth = max(value)'
    measure: 'depth'
    threshold: 0
  }
]

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      disableLocalAuth: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
  }
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: appInsights
  name: guid(appInsights.id, principalId, monitoringMetricsPublisher)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
  }
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: '${appInsightsName}-alerts'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'herald'
    enabled: true
    emailReceivers: [
      {
        name: 'on-call'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [for alert in alerts: {
  name: '${appInsightsName}-${alert.name}'
  location: location
  tags: tags
  properties: {
    displayName: 'Herald: ${alert.name}'
    description: alert.description
    severity: alert.severity
    enabled: true
    scopes: [
      appInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: alert.query
          timeAggregation: 'Maximum'
          metricMeasureColumn: alert.measure
          operator: 'GreaterThan'
          threshold: alert.threshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: empty(alertEmail) ? [] : [
        actionGroup.id
      ]
    }
  }
}]

output workspaceId string = workspace.id
output appInsightsName string = appInsights.name
output connectionString string = appInsights.properties.ConnectionString
